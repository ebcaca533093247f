<?php

declare(strict_types=1);

namespace SsePush\Tests;

use PHPUnit\Framework\TestCase;
use SsePush\Webhook;
use SsePush\WebhookException;

/** Webhook::verify against a vector signed by the server's own signer (src/webhook-signature.ts). */
final class WebhookTest extends TestCase
{
    private const BODY = '{"events":[{"id":"e1","type":"online","uid":"42","time":1700000000000}]}';
    private const SIG = 't=1700000000,v1=22517af58a26b28ce3a77a67aab0c609f1b3f0eec95ce1f381fde12475f52690';

    public function testAcceptsTheServersSignature(): void
    {
        $events = Webhook::verify(self::BODY, self::SIG, 'whsec-test', 300, 1700000100);
        self::assertSame([['id' => 'e1', 'type' => 'online', 'uid' => '42', 'time' => 1700000000000]], $events);
    }

    /** @return array<string, array{string, ?string, string, int, string}> */
    public static function refused(): array
    {
        return [
            'changed body' => [str_replace('42', '43', self::BODY), self::SIG, 'whsec-test', 1700000000, 'mismatch'],
            'other secret' => [self::BODY, self::SIG, 'other', 1700000000, 'mismatch'],
            'replayed later' => [self::BODY, self::SIG, 'whsec-test', 1700000301, 'tolerance'],
            'no header' => [self::BODY, null, 'whsec-test', 1700000000, 'missing'],
            'malformed header' => [self::BODY, 't=1700000000', 'whsec-test', 1700000000, 'malformed'],
            'empty secret' => [self::BODY, self::SIG, '', 1700000000, 'empty'],
        ];
    }

    /** @dataProvider refused */
    public function testRefuses(string $body, ?string $sig, string $secret, int $now, string $why): void
    {
        $this->expectException(WebhookException::class);
        $this->expectExceptionMessageMatches('/' . $why . '/');
        Webhook::verify($body, $sig, $secret, 300, $now);
    }
}
