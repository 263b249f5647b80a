/**
 * Tasks over HTTP (docs/server.md, "Tasks"): every task route (`/cluster`, `/outliers`, `/dedupe`,
 * `/diversity`, `/classify` with `evaluate`) runs its task in a worker thread (task-service.ts).
 *
 * - Synchronous (default): the answer is the task's answer; a client that disconnects before it
 *   cancels the task (its worker is terminated).
 * - Asynchronous (`Prefer: respond-async`, RFC 7240): 202 `{ task }` at once, `Location:
 *   /api/tasks/ID`; `GET /api/tasks/:id` gives the status, phase and progress, then the answer;
 *   `DELETE /api/tasks/:id` cancels a running task (or forgets a finished one); `GET /api/tasks`
 *   lists them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from './context.js';
import type { TaskRequest } from './task-service.js';

/** `Prefer` asks for an asynchronous answer (RFC 7240 §4.1). */
export function wantsAsync(prefer: string | string[] | undefined): boolean {
  const list = Array.isArray(prefer) ? prefer.join(',') : prefer ?? '';
  return /(^|[,;\s])respond-async\s*($|[,;])/i.test(list);
}

/**
 * Starts the task and answers: the task's answer (synchronous), or 202 with its state
 * (`Prefer: respond-async`). Errors reject with the task's OmnivecError, as a handler throws.
 */
export async function answerTask(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, request: TaskRequest): Promise<unknown> {
  const handle = await ctx.tasks.start(request);
  if (wantsAsync(req.headers.prefer)) {
    reply.code(202).header('location', `/api/tasks/${handle.id}`).header('preference-applied', 'respond-async');
    return { task: ctx.tasks.get(handle.id) };
  }
  // The response closes before it was written: the client went away; nobody will read the answer.
  let left = false;
  const gone = (): void => {
    if (reply.raw.writableFinished) return;
    left = true;
    ctx.tasks.cancel(handle.id);
  };
  reply.raw.once('close', gone);
  try {
    return await handle.promise;
  } catch (e) {
    // Nothing to answer, and not a server error to log: the task's state says it was cancelled.
    // The socket is ended here: the HTTP server keeps a half-closed one open (allowHalfOpen) until
    // a response is written, and close() would wait for it.
    if (left) {
      req.raw.socket?.destroy();
      return reply.hijack();
    }
    throw e;
  } finally {
    reply.raw.off('close', gone);
  }
}

const ID_PARAMS = { type: 'object', properties: { id: { type: 'string', description: 'the task id a 202 answer gave' } }, required: ['id'] };

export function registerTaskRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['tasks'];
  app.get('/api/tasks', { schema: { summary: 'the tasks running, queued and lately finished, newest first (answers left out)', tags } }, async () => ({ tasks: ctx.tasks.list() }));
  app.get('/api/tasks/:id', {
    schema: { summary: 'a task: status (queued, running, done, error, cancelled), phase, progress; its answer once done', tags, params: ID_PARAMS },
  }, async (req) => ({ task: ctx.tasks.get((req.params as { id: string }).id) }));
  app.delete('/api/tasks/:id', {
    schema: { summary: 'cancel a queued or running task (its worker is stopped); forget a finished one', tags, params: ID_PARAMS },
  }, async (req) => ({ task: ctx.tasks.cancel((req.params as { id: string }).id) }));
}
