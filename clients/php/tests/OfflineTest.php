<?php

declare(strict_types=1);

namespace SsePush\Tests;

use PHPUnit\Framework\TestCase;
use SsePush\Client;
use SsePush\Jwt;

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
}
