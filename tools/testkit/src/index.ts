/**
 * Test helpers shared by taskpulse packages (private, never published).
 * @packageDocumentation
 */
export { freePort, uniqueId } from './ports';
export { DEBIAN_PYTHON, MissingPrerequisiteError, requireBinary, requirePythonModules } from './prereq';
export { type RedisClusterHandle, type StartRedisClusterOptions, startRedisCluster } from './redis-cluster';
export { type RedisServer, rawRedisCommand, type StartRedisOptions, startRedis } from './redis-server';
