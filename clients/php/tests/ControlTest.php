<?php

declare(strict_types=1);

namespace SsePush\Tests;

use SsePush\Client;
use SsePush\Jwt;
use SsePush\PushException;
use SsePush\Tests\Support\ServerTestCase;

/** Kick, revoke, runtime groups, presence paging and exclude against the real server. */
final class ControlTest extends ServerTestCase
{
    private function client(): Client
    {
        return new Client($this->url, ['secret' => $this->secret, 'transport' => 'stream']);
    }

    public function testDisconnectEndsTheStreamAndRevokeRefusesTheOldToken(): void
    {
        $client = $this->client();
        $old = Jwt::sign(['sub' => 'ctl-kicked', 'iat' => time() - 5, 'exp' => time() + 600], $this->secret);
        $sse = $this->openEvents($old);
        $sse->waitForId();

        $answer = $client->disconnect('ctl-kicked', ['reason' => 'banned', 'reconnect' => false, 'revoke' => true]);

        self::assertSame(['uids' => 1, 'connections' => 1], $answer);
        $sse->waitForEvents(1);
        self::assertSame('disconnect', $sse->events[0]['event']);
        self::assertSame(['reason' => 'banned', 'reconnect' => false], json_decode($sse->events[0]['data'], true));
        self::assertFalse($client->isOnline('ctl-kicked'));
        [$status, $body] = $this->poll($old);
        self::assertSame(401, $status);
        self::assertSame('token_revoked', $body['error']);
        $sse->close();
    }

    public function testJoinedGroupGetsTheGroupPushAndLeaveStopsIt(): void
    {
        $client = $this->client();
        $sse = $this->openEvents($client->subscriberToken('ctl-joiner'));
        $sse->waitForId();

        self::assertSame(['uids' => 1, 'connections' => 1], $client->joinGroup('ctl-joiner', 'ctl-room'));
        self::assertSame(['ctl-room' => ['uids' => 1, 'connections' => 1]], $client->groupCounts(['ctl-room']));
        $result = $client->pushToGroup('ctl-room', 'hello');
        self::assertSame(1, $result['delivered']);
        $sse->waitForEvents(1);
        self::assertSame($result['id'], $sse->events[0]['id']);

        $client->leaveGroup('ctl-joiner', ['ctl-room']);
        self::assertSame(0, $client->pushToGroup('ctl-room', 'gone')['delivered']);
        $sse->close();
    }

    public function testExcludeKeepsAUidOutOfAGroupPush(): void
    {
        $client = $this->client();
        $a = $this->openEvents($client->subscriberToken('ctl-ex-a', ['ctl-ex']));
        $b = $this->openEvents($client->subscriberToken('ctl-ex-b', ['ctl-ex']));
        $a->waitForId();
        $b->waitForId();

        self::assertSame(2, $client->pushToGroup('ctl-ex', 1)['delivered']);
        self::assertSame(1, $client->pushToGroup('ctl-ex', 2, 'message', 'ctl-ex-b')['delivered']);
        self::assertSame(1, $client->send(['group' => 'ctl-ex', 'data' => 3, 'exclude' => ['ctl-ex-a']])['delivered']);
        $client->broadcast(4, 'message', ['ctl-ex-a', 'ctl-ex-b']);
        self::assertSame(0, $client->push(['ctl-ex-a', 'ctl-ex-b'], 5, 'message', ['ctl-ex-a', 'ctl-ex-b'])['delivered']);
        self::assertSame(2, $client->pushToGroup('ctl-ex', 6)['delivered']);

        $a->waitForEvents(3);
        $b->waitForEvents(3);
        self::assertSame(['1', '2', '6'], array_column($a->events, 'data'));
        self::assertSame(['1', '3', '6'], array_column($b->events, 'data'));
        $a->close();
        $b->close();
    }

    public function testOnlineUidsPagesThroughEveryUidOnce(): void
    {
        $client = $this->client();
        $streams = [];
        $uids = [];
        for ($i = 0; $i < 7; $i++) {
            $uids[] = "ctl-page-$i";
            $streams[] = $this->openEvents($client->subscriberToken("ctl-page-$i", ['ctl-pages']));
        }
        foreach ($streams as $sse) {
            $sse->waitForId();
        }

        $seen = iterator_to_array($client->onlineUids('ctl-pages', 2), false);

        self::assertSame($uids, $seen);
        self::assertContains('ctl-page-3', iterator_to_array($client->onlineUids(null, 3), false));
        foreach ($streams as $sse) {
            $sse->close();
        }
    }

    public function testAPushOnlyTokenGets403OnControlRoutes(): void
    {
        $push = Jwt::sign(['scope' => 'push', 'exp' => time() + 60], $this->secret);
        $client = new Client($this->url, ['token' => $push, 'transport' => 'stream']);
        try {
            $client->disconnect('ctl-nobody');
            self::fail('expected a PushException');
        } catch (PushException $e) {
            self::assertSame(403, $e->getStatus());
            self::assertSame('insufficient_scope', $e->getErrorCode());
        }
    }
}
