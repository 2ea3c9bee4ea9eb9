import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

// Every test here runs `taskpulse-hub` from its sources (tsx) in child processes, and waits up to
// 30 s for one to listen: on a loaded CI machine a test of two or three such starts outlasts the
// shared 20 s. A test that hangs still fails, at 60 s.
export default mergeConfig(sharedConfig, defineConfig({ test: { testTimeout: 60_000 } }));
