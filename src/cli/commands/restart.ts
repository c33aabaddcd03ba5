import { stopCommand } from './stop.js'

export default stopCommand('restart', 'Stops each job (as skiff stop does) if it is active, then starts it again.')
