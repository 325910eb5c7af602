// Module loader hooks that refuse every `node:` module and every Node built-in (registered by
// ./refuse-node.mjs), so that importing a module under them proves its whole graph runs without Node's APIs.
import { builtinModules } from 'node:module';

const builtins = new Set(builtinModules);

export async function resolve(specifier, context, next) {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (specifier.startsWith('node:') || builtins.has(bare) || builtins.has(bare.split('/')[0])) {
    throw new Error(`refused Node built-in '${specifier}' imported by ${context.parentURL ?? 'the entry'}`);
  }
  return next(specifier, context);
}
