<?php

declare(strict_types=1);

namespace SsePush\Tests;

use PHPUnit\Framework\TestCase;
use SsePush\Client;
use SsePush\Jwt;
use SsePush\PushException;
use SsePush\Transport;

/** What the client does without a server: token signing and argument checks. */
final class OfflineTest extends TestCase
{
    /** @return array<string, mixed> */
    private static function payload(string $token): array
    {
        $parts = explode('.', $token);
        self::assertCount(3, $parts);
        return json_decode(base64_decode(strtr($parts[1], '-_', '+/')), true);
    }

    public function testJwtMatchesAKnownHs256Vector(): void
    {
        // Same header, payload and secret give the same bytes as any HS256 implementation.
        $token = Jwt::sign(['sub' => '42'], 'secret');
        [$head, $body, $sig] = explode('.', $token);
        self::assertSame('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', $head);
        self::assertSame('eyJzdWIiOiI0MiJ9', $body);
        self::assertSame(Jwt::base64url(hash_hmac('sha256', "$head.$body", 'secret', true)), $sig);
    }

    public function testSubscriberTokenCarriesUidGroupsAndExpiry(): void
    {
        $client = new Client('http://127.0.0.1:1', ['secret' => 's', 'issuer' => 'shop', 'audience' => 'push']);
        $claims = self::payload($client->subscriberToken(42, ['vip', 7], 600));
        self::assertSame('42', $claims['sub']);
        self::assertSame(['vip', '7'], $claims['groups']);
        self::assertSame('shop', $claims['iss']);
        self::assertSame('push', $claims['aud']);
        self::assertEqualsWithDelta(time() + 600, $claims['exp'], 2);
        self::assertArrayNotHasKey('groups', self::payload($client->subscriberToken('u')));
    }

    public function testSubscriberTokenNeedsTheSecret(): void
    {
        $this->expectException(\LogicException::class);
        (new Client('http://127.0.0.1:1', ['token' => 'a.b.c']))->subscriberToken('u');
    }

    public function testConstructorRefusesMissingCredentialsAndBadUrls(): void
    {
        try {
            new Client('http://127.0.0.1:1');
            self::fail('expected an InvalidArgumentException');
        } catch (\InvalidArgumentException $e) {
            self::assertStringContainsString('secret', $e->getMessage());
        }
        $this->expectException(\InvalidArgumentException::class);
        new Client('127.0.0.1:8080', ['secret' => 's']);
    }

    public function testUnknownMessageFieldsAreRefusedBeforeSending(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        (new Client('http://127.0.0.1:1', ['secret' => 's']))->batch([['to' => 'a', 'dta' => 1]]);
    }

    public function testPublisherTokensUseThePublisherSecretAndAreReused(): void
    {
        $transport = new RecordingTransport([200, '{"id":"e-1","online":false,"delivered":0}']);
        $client = new Client('http://push.internal:8080/', [
            'secret' => 'subscriber-secret',
            'publisherSecret' => 'publisher-secret',
            'audience' => 'push',
            'transport' => $transport,
        ]);
        $client->send(['to' => [1, 'b'], 'group' => 'g', 'data' => ['x' => 1], 'event' => null]);
        $client->broadcast('hi', 'note');

        [$first, $second] = $transport->requests;
        self::assertSame(['POST', 'http://push.internal:8080/push'], [$first['method'], $first['url']]);
        self::assertSame('{"to":[1,"b"],"group":"g","data":{"x":1}}', $first['body']);
        self::assertSame('{"event":"note","data":"hi"}', $second['body']);
        self::assertContains('Content-Type: application/json', $first['headers']);
        $auth = preg_grep('{^Authorization: Bearer }', $first['headers']);
        self::assertCount(1, $auth);
        $token = substr((string) reset($auth), strlen('Authorization: Bearer '));
        self::assertContains('Authorization: Bearer ' . $token, $second['headers'], 'the token is reused');
        [$head, $body, $sig] = explode('.', $token);
        self::assertSame(Jwt::base64url(hash_hmac('sha256', "$head.$body", 'publisher-secret', true)), $sig);
        $claims = self::payload($token);
        self::assertSame('push', $claims['scope']);
        self::assertSame('push', $claims['aud']);
        self::assertEqualsWithDelta(time() + 300, $claims['exp'], 2);
    }

    public function testOnlineSendsRepeatedUidParameters(): void
    {
        $transport = new RecordingTransport([200, '{"uids":1,"connections":2,"online":{"a b":2,"7":0}}']);
        $client = new Client('http://h', ['token' => 'a.b.c', 'transport' => $transport]);
        self::assertSame(['a b' => 2, '7' => 0], $client->online(['a b', 7])['online']);
        self::assertSame('http://h/online?uid=a%20b&uid=7', $transport->requests[0]['url']);
        self::assertNull($transport->requests[0]['body']);
        self::assertContains('Authorization: Bearer a.b.c', $transport->requests[0]['headers']);
    }

    public function testAnAnswerThatIsNotJsonIsABadResponse(): void
    {
        $client = new Client('http://h', ['token' => 't', 'transport' => new RecordingTransport([502, '<html>'])]);
        try {
            $client->push('u', 1);
            self::fail('expected a PushException');
        } catch (PushException $e) {
            self::assertSame([502, 'bad_response'], [$e->getStatus(), $e->getErrorCode()]);
        }
    }

    public function testSignedPushTokenLacksControlUntilAControlCallNeedsIt(): void
    {
        $client = new Client('http://127.0.0.1:1', ['secret' => 's']);
        self::assertSame('push', self::payload($client->publisherToken())['scope']);
        self::assertSame('control', self::payload($client->publisherToken('control'))['scope']);
        self::assertSame($client->publisherToken(), $client->publisherToken('push'));
        self::assertSame('push', self::payload($client->publisherToken())['scope']);
    }

    public function testExcludeIsKeptInMessagesAndUnknownFieldsRefused(): void
    {
        self::assertSame(['group' => 'g', 'exclude' => ['a', 'b'], 'data' => 1], Client::message([
            'group' => 'g', 'exclude' => ['x' => 'a', 'y' => 'b'], 'data' => 1,
        ]));
        self::assertSame(['data' => 1], Client::message(['data' => 1, 'exclude' => null]));
    }

    public function testOnlyControlCallsCarryAControlToken(): void
    {
        $answer = '{"id":"e","online":false,"delivered":0,"uids":0,"connections":0,"groups":{"g":{"uids":0,"connections":0}}}';
        $transport = new RecordingTransport([200, $answer]);
        $client = new Client('http://h:8080', ['secret' => 's', 'transport' => $transport]);
        $client->pushToGroup('g', 1, 'message', ['a', 'b']);
        $client->groupCounts(['g']);
        $client->disconnect(['a'], ['revoke' => true]);
        $client->joinGroup('a', 'g');
        $client->push('a', 2);
        self::assertSame('{"group":"g","event":"message","exclude":["a","b"],"data":1}', $transport->requests[0]['body']);
        self::assertSame('{"uid":["a"],"revoke":true}', $transport->requests[2]['body']);
        $scopes = [];
        foreach ($transport->requests as $r) {
            $auth = (string) preg_grep('/^Authorization: /', $r['headers'])[0];
            $scopes[] = [(string) parse_url($r['url'], PHP_URL_PATH), self::payload(substr($auth, 22))['scope']];
        }
        self::assertSame(
            [['/push', 'push'], ['/online', 'push'], ['/disconnect', 'control'], ['/groups', 'control'], ['/push', 'push']],
            $scopes
        );
    }
}

final class RecordingTransport implements Transport
{
    /** @var array<int, array{method: string, url: string, headers: string[], body: string|null}> */
    public $requests = [];

    /** @var array{0: int, 1: string} */
    private $answer;

    /** @param array{0: int, 1: string} $answer */
    public function __construct(array $answer)
    {
        $this->answer = $answer;
    }

    public function request(string $method, string $url, array $headers, ?string $body): array
    {
        $this->requests[] = ['method' => $method, 'url' => $url, 'headers' => $headers, 'body' => $body];
        return $this->answer;
    }
}
