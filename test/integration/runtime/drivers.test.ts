import { runtimeContract } from '../../contract/runtime-driver.contract.js'

// The same behaviour from crun (the default) and runc.
runtimeContract('crun')
runtimeContract('runc')
