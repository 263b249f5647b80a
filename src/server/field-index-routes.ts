/**
 * Payload indexes over HTTP (docs/server.md, "Endpoints"; docs/db.md, "Payload indexes"):
 *   GET    /api/collections/:name/field-indexes          the declared ones
 *   POST   /api/collections/:name/field-indexes          { field, type } → 201 created, 200 when already declared
 *   DELETE /api/collections/:name/field-indexes/:field   404 when the field has none
 * The library checks the field name and type (a typed 400 naming what came).
 */
import type { FastifyInstance } from 'fastify';
import { FIELD_INDEX_TYPES, type FieldIndexType } from '../db/field-index.js';
import { checkCollectionName, MAX_COLLECTION_NAME } from '../db/names.js';
import type { ServerContext } from './context.js';

const NAME = { type: 'string', description: `collection name: 1–${MAX_COLLECTION_NAME} letters, digits, ".", "_" or "-"` };
const CREATE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['field'],
  properties: {
    field: { type: 'string', description: 'a top-level metadata field' },
    type: { type: 'string', enum: [...FIELD_INDEX_TYPES], description: 'the values indexed (default keyword): strings, numbers (integer / float), or booleans; conditions on values of other types take the JSON path' },
  },
};

export function registerFieldIndexRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['collections'];
  const collection = (name: string) => ctx.db.getCollection(checkCollectionName(name));

  app.get('/api/collections/:name/field-indexes', {
    schema: { summary: 'the payload indexes declared on a collection', tags, params: { type: 'object', properties: { name: NAME }, required: ['name'] } },
  }, async (req) => ({ fieldIndexes: await (await collection((req.params as { name: string }).name)).listFieldIndexes() }));

  app.post('/api/collections/:name/field-indexes', {
    schema: { summary: 'declare a payload index on a metadata field (back-filled now, kept in step by every write)', tags, params: { type: 'object', properties: { name: NAME }, required: ['name'] }, body: CREATE_BODY },
  }, async (req, reply) => {
    const c = await collection((req.params as { name: string }).name);
    const b = req.body as { field: string; type?: FieldIndexType };
    const type = b.type ?? 'keyword';
    const created = await c.createFieldIndex(b.field, { type });
    return reply.code(created ? 201 : 200).send({ created, fieldIndexes: await c.listFieldIndexes() });
  });

  app.delete('/api/collections/:name/field-indexes/:field', {
    schema: { summary: 'remove a field\'s payload index', tags, params: { type: 'object', properties: { name: NAME, field: { type: 'string' } }, required: ['name', 'field'] } },
  }, async (req) => {
    const p = req.params as { name: string; field: string };
    const c = await collection(p.name);
    await c.dropFieldIndex(p.field);
    return { dropped: p.field, fieldIndexes: await c.listFieldIndexes() };
  });
}
