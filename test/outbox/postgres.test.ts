import { postgresSkipReason, startPostgres } from '../db-servers.js';
import { outboxSuite } from './outbox-suite.js';

outboxSuite('PostgreSQL', startPostgres, postgresSkipReason());
