<?php

// The `sync` driver: Laravel's own queue code (serialising the job, resolving handle()'s
// arguments from the container, fail()), run in the dispatching process.

return [
    'default' => 'sync',
    'connections' => [
        'sync' => ['driver' => 'sync'],
    ],
    'failed' => ['driver' => 'null'],
];
