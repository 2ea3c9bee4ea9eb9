/**
 * Test helpers shared by taskpulse packages (private, never published).
 * @packageDocumentation
 */
export { freePort, uniqueId } from './ports';
export { DEBIAN_PYTHON, MissingPrerequisiteError, requireBinary, requirePythonModules } from './prereq';
export { rawRedisCommand, type RedisServer, type StartRedisOptions, startRedis } from './redis-server';
