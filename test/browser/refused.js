// A scenario that must fail in the browser-like realm: the CLI's object helpers read files with node:fs.
import { readObjectFile } from '../../dist/cli/objects.js';

console.log(typeof readObjectFile);
