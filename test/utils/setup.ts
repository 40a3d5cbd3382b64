import { afterAll } from 'vitest';
import { closeAllStacks } from './harness.js';

// Every gateway and simulator a test file started is closed here, whatever the test forgot.
afterAll(closeAllStacks);
