import { createLogStore } from '../../../src/logs/index.js'
import { logStoreContract } from '../../contract/log-store.contract.js'

logStoreContract('file store (unit, fast poll)', (root) => createLogStore({ root, sweepMs: 0, pollMs: 50 }))
