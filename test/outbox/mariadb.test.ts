import { mariadbSkipReason, startMariaDb } from '../db-servers.js';
import { outboxSuite } from './outbox-suite.js';

outboxSuite('MariaDB', startMariaDb, mariadbSkipReason());
