<?php

declare(strict_types=1);

namespace SsePush\Tests\Support;

use SsePush\Client;
use SsePush\ConnectionException;
use SsePush\Jwt;
use SsePush\PushException;

/**
 * The client's behaviour against a real server, run once per transport (curl, streams).
 * Delivery is checked for real: a subscriber token the client minted opens /events or
 * /poll, the client pushes, and the message must arrive.
 */
abstract class ClientTestCase extends ServerTestCase
{
    /** "curl" or "stream". */
    abstract protected function transport(): string;

    /** @param array<string, mixed> $options */
    protected function client(array $options = []): Client
    {
        return new Client($this->url, $options + ['secret' => $this->secret, 'transport' => $this->transport()]);
    }

    /** A uid unique to this transport's run, so both runs can share one server. */
    protected function uid(string $name): string
    {
        return $this->transport() . '-' . $name;
    }

    public function testPushToAUidArrivesOnItsEventStream(): void
    {
        $client = $this->client();
        $sse = $this->openEvents($client->subscriberToken($this->uid('alice')));
        $sse->waitForId();

        $result = $client->push($this->uid('alice'), ['title' => '新订单', 'orderId' => 1001], 'order');

        self::assertTrue($result['online']);
        self::assertSame(1, $result['delivered']);
        self::assertIsString($result['id']);
        $sse->waitForEvents(1);
        self::assertSame(
            ['id' => $result['id'], 'event' => 'order', 'data' => '{"title":"新订单","orderId":1001}'],
            $sse->events[0]
        );
    }

    public function testPushToSeveralUidsAndNumericUids(): void
    {
        $client = $this->client();
        $numeric = $this->transport() === 'curl' ? 9001 : 9002;
        $a = $this->openEvents($client->subscriberToken($numeric));
        $b = $this->openEvents($client->subscriberToken($this->uid('bob')));
        $a->waitForId();
        $b->waitForId();

        $result = $client->push([$numeric, $this->uid('bob'), $this->uid('nobody')], 'hi');

        self::assertSame(2, $result['delivered']);
        $a->waitForEvents(1);
        $b->waitForEvents(1);
        self::assertSame('"hi"', $a->events[0]['data']);
        self::assertSame($result['id'], $b->events[0]['id']);
    }

    public function testPushToGroupReachesMembersOnly(): void
    {
        $client = $this->client();
        $group = $this->uid('room');
        $member = $client->subscriberToken($this->uid('member'), [$group, 'other']);
        $outsider = $client->subscriberToken($this->uid('outsider'), ['other']);
        [, $m0] = $this->poll($member);
        [, $o0] = $this->poll($outsider);

        $result = $client->pushToGroup($group, ['n' => 1], 'room.msg');

        [$status, $got] = $this->poll($member, $m0['cursor']);
        self::assertSame(200, $status);
        self::assertCount(1, $got['messages']);
        self::assertSame($result['id'], $got['messages'][0]['id']);
        self::assertSame('room.msg', $got['messages'][0]['event']);
        self::assertSame(['n' => 1], $got['messages'][0]['data']);
        [, $none] = $this->poll($outsider, $o0['cursor'], 1);
        self::assertSame([], $none['messages']);
    }

    public function testSendToAUidAndItsGroupDeliversOnce(): void
    {
        $client = $this->client();
        $sse = $this->openEvents($client->subscriberToken($this->uid('both'), [$this->uid('both-group')]));
        $sse->waitForId();

        $result = $client->send(['to' => $this->uid('both'), 'group' => $this->uid('both-group'), 'data' => 1]);

        self::assertSame(1, $result['delivered']);
        $sse->waitForEvents(1);
        $next = $client->push($this->uid('both'), 2);
        $sse->waitForEvents(2);
        self::assertSame([$result['id'], $next['id']], array_column($sse->events, 'id'));
    }

    public function testBroadcastReachesEveryone(): void
    {
        $client = $this->client();
        $sse = $this->openEvents($client->subscriberToken($this->uid('anyone'), [], 60));
        $sse->waitForId();

        $result = $client->broadcast(['notice' => 'maintenance at 22:00']);

        self::assertTrue($result['online']);
        $sse->waitUntil(static function (Sse $s) use ($result): bool {
            return in_array($result['id'], array_column($s->events, 'id'), true);
        });
    }

    public function testBatchPublishesInOrderWithOneResultEach(): void
    {
        $client = $this->client();
        $token = $client->subscriberToken($this->uid('batch'), [$this->uid('batch-group')]);
        [, $first] = $this->poll($token);

        $results = $client->batch([
            ['to' => $this->uid('batch'), 'data' => 1],
            ['group' => $this->uid('batch-group'), 'data' => 2, 'event' => 'g'],
            ['to' => $this->uid('someone-else'), 'data' => 3],
        ]);

        self::assertCount(3, $results);
        [, $got] = $this->poll($token, $first['cursor']);
        $seen = array_map(static function (array $m): array {
            return [$m['id'], $m['event'], $m['data']];
        }, $got['messages']);
        self::assertSame([[$results[0]['id'], 'message', 1], [$results[1]['id'], 'g', 2]], $seen);
    }

    public function testBadBatchItemPublishesNothing(): void
    {
        $client = $this->client();
        try {
            $client->batch([['to' => 'x', 'data' => 1], ['to' => 'x', 'data' => 2, 'event' => 'bad event']]);
            self::fail('expected a PushException');
        } catch (PushException $e) {
            self::assertSame(400, $e->getStatus());
            self::assertSame('bad_request', $e->getErrorCode());
            self::assertStringContainsString('item 1', $e->getMessage());
        }
    }

    public function testOnlineCountsConnectionsPerUid(): void
    {
        $client = $this->client();
        $sse = $this->openEvents($client->subscriberToken($this->uid('here')));
        $sse->waitForId();

        $answer = $client->online([$this->uid('here'), $this->uid('away')]);

        self::assertSame([$this->uid('here') => 1, $this->uid('away') => 0], $answer['online']);
        self::assertGreaterThanOrEqual(1, $answer['uids']);
        self::assertTrue($client->isOnline($this->uid('here')));
        self::assertFalse($client->isOnline($this->uid('away')));
        self::assertArrayNotHasKey('online', $client->online());
    }

    public function testExpiredPublisherTokenIsA401WithTheServerCode(): void
    {
        $expired = Jwt::sign(['scope' => 'push', 'exp' => time() - 60], $this->secret);
        $client = new Client($this->url, ['token' => $expired, 'transport' => $this->transport()]);
        try {
            $client->broadcast('x');
            self::fail('expected a PushException');
        } catch (PushException $e) {
            self::assertNotInstanceOf(ConnectionException::class, $e);
            self::assertSame(401, $e->getStatus());
            self::assertSame('token_expired', $e->getErrorCode());
        }
    }

    public function testExpiredSubscriberTokenIsRefused(): void
    {
        $expired = Jwt::sign(['sub' => $this->uid('late'), 'exp' => time() - 60], $this->secret);
        [$status, $body] = $this->poll($expired);
        self::assertSame(401, $status);
        self::assertSame('token_expired', $body['error']);
    }

    public function testWrongSecretIsA401(): void
    {
        $client = $this->client(['secret' => 'not-the-server-secret']);
        try {
            $client->push('x', 1);
            self::fail('expected a PushException');
        } catch (PushException $e) {
            self::assertSame(401, $e->getStatus());
            self::assertSame('invalid_token', $e->getErrorCode());
        }
    }

    public function testServerDownFailsFastWithAConnectionException(): void
    {
        $client = new Client('http://127.0.0.1:' . self::closedPort(), [
            'secret' => $this->secret,
            'transport' => $this->transport(),
            'timeout' => 3,
        ]);
        $started = microtime(true);
        try {
            $client->push('x', 1);
            self::fail('expected a ConnectionException');
        } catch (ConnectionException $e) {
            self::assertSame(0, $e->getStatus());
            self::assertSame('connection_failed', $e->getErrorCode());
            self::assertStringContainsString('127.0.0.1', $e->getMessage());
        }
        self::assertLessThan(2.0, microtime(true) - $started);
    }

    public function testServerThatNeverAnswersTimesOut(): void
    {
        // Listening but never accepting: the kernel completes the handshake, no answer comes.
        $silent = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        self::assertNotFalse($silent, $error);
        $name = (string) stream_socket_get_name($silent, false);
        $client = new Client('http://' . $name, [
            'secret' => $this->secret,
            'transport' => $this->transport(),
            'timeout' => 0.5,
        ]);
        $started = microtime(true);
        try {
            $client->push('x', 1);
            self::fail('expected a ConnectionException');
        } catch (ConnectionException $e) {
            self::assertSame('timeout', $e->getErrorCode());
        } finally {
            fclose($silent);
        }
        self::assertLessThan(3.0, microtime(true) - $started);
    }

    public function testWebMsgSenderStyleFormPushStillWorks(): void
    {
        // The call a web-msg-sender backend makes, unchanged except the URL and a token.
        $client = $this->client();
        $token = $client->subscriberToken($this->uid('legacy'));
        [, $first] = $this->poll($token);
        $publisher = Jwt::sign(['scope' => 'push', 'exp' => time() + 60], $this->secret);

        $form = ['type' => 'publish', 'to' => $this->uid('legacy'), 'content' => '你好', 'event' => 'new_msg'];
        [$status, $result] = $this->http('POST', '/push', [
            'Authorization: Bearer ' . $publisher,
            'Content-Type: application/x-www-form-urlencoded',
        ], http_build_query($form));

        self::assertSame(200, $status, json_encode($result));
        [, $got] = $this->poll($token, $first['cursor']);
        self::assertSame('new_msg', $got['messages'][0]['event']);
        self::assertSame('你好', $got['messages'][0]['data']);
    }
}
