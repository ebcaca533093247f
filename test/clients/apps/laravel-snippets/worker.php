<?php

/**
 * The doc's queued job on Laravel's `database` queue (MariaDB) with Laravel's own worker, as
 * `php artisan queue:work` runs it:  php worker.php UID PORT
 *   - ssepush unreachable (the closed PORT): the job throws, the worker releases it for a retry;
 *   - ssepush back: the next attempt delivers (order 10);
 *   - a push the server refuses (400): the job fails itself and is not retried.
 * Prints {"afterDown": {attempts, queued}, "processed": [attempts of each job that finished],
 * "failed": [statuses], "left": rows still queued}.
 */

use App\Jobs\PushToUser;
use Illuminate\Contracts\Http\Kernel;
use Illuminate\Database\Schema\Blueprint;
use Illuminate\Queue\Events\JobFailed;
use Illuminate\Queue\Events\JobProcessed;
use Illuminate\Queue\WorkerOptions;
use Illuminate\Support\Facades\DB;
use Illuminate\Support\Facades\Queue;
use Illuminate\Support\Facades\Schema;
use SsePush\Client;

require __DIR__ . '/vendor/autoload.php';
$app = require __DIR__ . '/bootstrap/app.php';
$app->make(Kernel::class)->bootstrap();
[, $uid, $closed] = $argv;

// Laravel 8's `queue:table` migration.
Schema::create('jobs', static function (Blueprint $table): void {
    $table->bigIncrements('id');
    $table->string('queue')->index();
    $table->longText('payload');
    $table->unsignedTinyInteger('attempts');
    $table->unsignedInteger('reserved_at')->nullable();
    $table->unsignedInteger('available_at');
    $table->unsignedInteger('created_at');
});

$failed = [];
Queue::failing(static function (JobFailed $e) use (&$failed): void {
    $failed[] = $e->exception->getStatus();
});
$processed = [];
Queue::after(static function (JobProcessed $e) use (&$processed): void {
    $processed[] = $e->job->attempts();
});
$worker = $app->make('queue.worker');
$options = new WorkerOptions();
$url = config('ssepush.url');
$useServer = static function (string $url) use ($app): void {
    config(['ssepush.url' => $url]);
    $app->forgetInstance(Client::class);   // the doc's binding builds the client from the config again
};

$useServer("http://127.0.0.1:$closed");
PushToUser::dispatch($uid, ['orderId' => 10], 'order');
$worker->runNextJob('database', 'default', $options);
$row = DB::table('jobs')->first();
$afterDown = ['attempts' => $row->attempts ?? null, 'queued' => DB::table('jobs')->count()];

$useServer($url);
for ($i = 0; $i < 30 && DB::table('jobs')->count() > 0; $i++) {
    sleep(1);   // the job's backoff: the released job is available again after a second
    $worker->runNextJob('database', 'default', $options);
}
PushToUser::dispatch($uid, ['x' => 1], 'not valid');
$worker->runNextJob('database', 'default', $options);

echo json_encode([
    'afterDown' => $afterDown,
    'processed' => $processed,
    'failed' => $failed,
    'left' => DB::table('jobs')->count(),
]), "\n";
