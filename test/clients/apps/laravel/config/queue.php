<?php

// `sync` by default: Laravel's own queue code (serialising the job, resolving handle()'s
// arguments from the container, fail()), run in the dispatching process. `database` (on the DB_*
// connection) when QUEUE_CONNECTION says so, for a worker that releases and retries.

return [
    'default' => env('QUEUE_CONNECTION', 'sync'),
    'connections' => [
        'sync' => ['driver' => 'sync'],
        'database' => [
            'driver' => 'database',
            'table' => 'jobs',
            'queue' => 'default',
            'retry_after' => 90,
        ],
    ],
    'failed' => ['driver' => 'null'],
];
