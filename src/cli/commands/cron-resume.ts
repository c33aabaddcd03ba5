import { setSuspended } from './cron-suspend.js'

export default setSuspended(false)
