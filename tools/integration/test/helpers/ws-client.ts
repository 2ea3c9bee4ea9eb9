/** The native-protocol test client, shared with other packages through `@taskpulse/testkit/ws-client`. */
export * from '@taskpulse/testkit/ws-client';
