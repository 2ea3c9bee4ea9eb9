/** The ws-hub test helper, shared (not copied): see packages/ws-hub/test/helpers/hub.ts. */
export * from '../../../../packages/ws-hub/test/helpers/hub';
