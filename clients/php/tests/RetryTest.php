<?php

declare(strict_types=1);

namespace SsePush\Tests;

use SsePush\Client;
use SsePush\ConnectionException;
use SsePush\StreamTransport;
use SsePush\Tests\Support\ServerTestCase;
use SsePush\Transport;

/** A transport whose first answers are lost after the request reached the server. */
final class LosingTransport implements Transport
{
    /** @var int */
    public $lose;

    /** @var string[][] headers of every request sent */
    public $sent = [];

    /** @var Transport */
    private $inner;

    public function __construct(int $lose)
    {
        $this->lose = $lose;
        $this->inner = new StreamTransport(5.0);
    }

    public function request(string $method, string $url, array $headers, ?string $body): array
    {
        $this->sent[] = $headers;
        $answer = $this->inner->request($method, $url, $headers, $body);
        if ($this->lose-- > 0) {
            throw new ConnectionException('ssepush: answer lost (test)', 0, 'timeout');
        }
        return $answer;
    }
}

/** Retries with idempotency keys against the real server: a lost answer never doubles a push. */
final class RetryTest extends ServerTestCase
{
    public function testARetriedPushWhoseAnswerWasLostArrivesOnceWithTheFirstId(): void
    {
        $transport = new LosingTransport(2);
        $client = new Client($this->url, [
            'secret' => $this->secret, 'transport' => $transport, 'retries' => 3, 'retryDelay' => 0.01,
        ]);
        $sse = $this->openEvents($client->subscriberToken('retry-php'));
        $sse->waitForId();

        $result = $client->push('retry-php', ['n' => 1]);

        $sse->waitForEvents(1);
        self::assertSame($result['id'], $sse->events[0]['id']);
        self::assertCount(3, $transport->sent);
        $keys = array_map(static function (array $headers): string {
            return implode('', preg_grep('/^Idempotency-Key: /', $headers) ?: []);
        }, $transport->sent);
        self::assertMatchesRegularExpression('/^Idempotency-Key: [0-9a-f]{32}$/', $keys[0]);
        self::assertSame([$keys[0], $keys[0], $keys[0]], $keys);
        usleep(300000);
        $sse->waitForEvents(1);
        self::assertCount(1, $sse->events);

        // The next logical push gets a fresh key.
        $client->push('retry-php', ['n' => 2]);
        self::assertNotSame($keys[0], implode('', preg_grep('/^Idempotency-Key: /', end($transport->sent)) ?: []));
    }

    public function testRetriesAreOffByDefaultAndAnExplicitKeyIsSent(): void
    {
        $transport = new LosingTransport(1);
        $client = new Client($this->url, ['secret' => $this->secret, 'transport' => $transport]);
        try {
            $client->push('retry-php-2', 1);
            self::fail('the lost answer must surface without retries');
        } catch (ConnectionException $e) {
            self::assertSame('timeout', $e->getErrorCode());
        }
        self::assertCount(1, $transport->sent);
        self::assertEmpty(preg_grep('/^Idempotency-Key:/', $transport->sent[0]));

        $first = $client->send(['to' => 'retry-php-2', 'data' => 1], 'order-1001-paid');
        $again = $client->send(['to' => 'retry-php-2', 'data' => 1], 'order-1001-paid');
        self::assertSame($first, $again);
        self::assertContains('Idempotency-Key: order-1001-paid', end($transport->sent));
    }
}
