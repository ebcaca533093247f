<?php

/**
 * Drives the docs' Laravel snippets inside the real application (test/clients/laravel-snippets.test.ts
 * writes them into it), through Laravel's own HTTP kernel, container, queue and events:
 *   php drive.php token UID        GET /push/token without a user, then as UID (team 3);
 *                                  prints {"anonymous": status, "token": ...}
 *   php drive.php push UID PORT    the doc's `PushToUser::dispatch(...)` line (order 7), the
 *                                  OrderPaid event (order 8), a push the server refuses (400), and
 *                                  one to the closed PORT; prints {"failed": [...], "down": class}
 * The `anywhere:` line of the job snippet is read from anywhere.php.
 */

use App\Events\OrderPaid;
use App\Jobs\PushToUser;
use Illuminate\Contracts\Http\Kernel;
use Illuminate\Http\Request;
use Illuminate\Queue\Events\JobFailed;
use Illuminate\Support\Facades\Queue;
use SsePush\Client;

require __DIR__ . '/vendor/autoload.php';
$app = require __DIR__ . '/bootstrap/app.php';
$kernel = $app->make(Kernel::class);
[, $step, $uid] = $argv;

if ($step === 'token') {
    $get = static function (array $server) use ($kernel) {
        $request = Request::create('/push/token', 'GET', [], [], [], $server + ['HTTP_ACCEPT' => 'application/json']);
        $response = $kernel->handle($request);
        $kernel->terminate($request, $response);
        return [$response->getStatusCode(), json_decode((string) $response->getContent(), true)];
    };
    [$anonymous] = $get([]);
    [$status, $body] = $get(['HTTP_X_TEST_USER' => $uid, 'HTTP_X_TEST_TEAM' => '3']);
    echo json_encode(['anonymous' => $anonymous, 'status' => $status, 'token' => $body['token'] ?? null]), "\n";
    exit(0);
}

$kernel->bootstrap();
$failed = [];
Queue::failing(static function (JobFailed $e) use (&$failed): void {
    $x = $e->exception;
    $failed[] = (new ReflectionClass($x))->getShortName() . ' ' . (method_exists($x, 'getStatus') ? $x->getStatus() : '');
});

$order = (object) ['user_id' => $uid, 'id' => 7];
require __DIR__ . '/anywhere.php';
event(new OrderPaid((object) ['user_id' => $uid, 'id' => 8]));

// A push the server refuses: the job fails itself, with no retry.
PushToUser::dispatch($uid, ['x' => 1], 'not valid');

// The server unreachable: the job throws for the queue to retry. The doc's binding builds a new
// client from the config.
config(['ssepush.url' => 'http://127.0.0.1:' . $argv[3]]);
$app->forgetInstance(Client::class);
$down = null;
try {
    PushToUser::dispatch($uid, ['x' => 1]);
} catch (Throwable $e) {
    $down = get_class($e);
}
echo json_encode(['failed' => $failed, 'down' => $down]), "\n";
