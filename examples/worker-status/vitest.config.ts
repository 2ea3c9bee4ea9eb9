import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

// The end-to-end files each run redis-server, Python, hubs and Chromium: one file at a time.
export default mergeConfig(sharedConfig, { test: { fileParallelism: false } });
