import { sessionStoreContract } from './contract.js';
import { MemorySessionStore } from './memory-session-store.js';

sessionStoreContract('MemorySessionStore', (env) => new MemorySessionStore(env));
