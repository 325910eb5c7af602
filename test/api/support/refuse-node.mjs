// `node --import ./refuse-node.mjs ...`: from here on, importing a Node built-in fails (./refuse-node-hooks.mjs).
import { register } from 'node:module';

register('./refuse-node-hooks.mjs', import.meta.url);
