<?php

/**
 * Runs docs/outbox.md's Laravel block (written to outbox-snippet.php) inside the real application
 * on its DB_* connection (MariaDB or PostgreSQL), with Laravel's own DB facade and transaction:
 *   php drive.php ORDER_ID UID
 * Driven by test/clients/outbox-sdk.test.ts, which checks what ssepush delivers.
 */

use Illuminate\Contracts\Http\Kernel;
use Illuminate\Support\Facades\DB;

require __DIR__ . '/vendor/autoload.php';
$app = require __DIR__ . '/bootstrap/app.php';
$app->make(Kernel::class)->bootstrap();

$orderId = (int) $argv[1];
$userId = $argv[2];
require __DIR__ . '/outbox-snippet.php';

echo 'ok: order ', DB::table('orders')->where('id', $orderId)->value('status'), "\n";
