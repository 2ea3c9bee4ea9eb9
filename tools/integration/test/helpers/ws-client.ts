/** The ws-hub test helper, shared (not copied): see packages/ws-hub/test/helpers/ws-client.ts. */
export * from '../../../../packages/ws-hub/test/helpers/ws-client';
