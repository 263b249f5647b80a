/**
 * The fastify seam: fastify and @fastify/ajv-compiler (the schema validator) are imported here and
 * nowhere else (route files import their types only), lazily, when `createServer` builds an app.
 * Together they cost ~110–190 ms to import (median of 9 fresh `node -e` imports on the 2-core dev
 * machine, busy: fastify 107–187 ms with avvio, find-my-way and ajv under it; the compiler alone
 * 57–114 ms, mostly ajv, which fastify shares), the largest part of `import 'omnivec'` before it
 * moved here, paid by every program that never serves HTTP. Both are cached after the first call.
 */
type Fastify = typeof import('fastify').default;
type AjvCompiler = typeof import('@fastify/ajv-compiler').default;

export interface FastifyModules {
  fastify: Fastify;
  ajvCompiler: AjvCompiler;
}

let modules: Promise<FastifyModules> | undefined;

export async function loadFastify(): Promise<FastifyModules> {
  modules ??= Promise.all([import('fastify'), import('@fastify/ajv-compiler')])
    .then(([f, a]) => ({ fastify: f.default, ajvCompiler: a.default }), (e: unknown) => {
      modules = undefined;
      throw e;
    });
  return modules;
}
