<?php

declare(strict_types=1);

namespace SsePush;

/**
 * Verifies a presence webhook from ssepush (WEBHOOK_URL): the SsePush-Signature header is
 * "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">" keyed by WEBHOOK_SECRET.
 *
 *     $events = \SsePush\Webhook::verify(file_get_contents('php://input'),
 *         $_SERVER['HTTP_SSEPUSH_SIGNATURE'] ?? null, getenv('SSEPUSH_WEBHOOK_SECRET'));
 *     foreach ($events as $e) { // ['id' => ..., 'type' => 'online'|'offline', 'uid' => ..., 'time' => ms]
 *     }
 */
final class Webhook
{
    /**
     * Returns the events of a genuine request, or throws WebhookException. Pass the raw body
     * exactly as received. A timestamp older (or newer) than $toleranceSeconds is refused, so a
     * recorded request cannot be replayed later. Deliveries are at least once: dedupe by 'id'.
     *
     * @return list<array{id: string, type: string, uid: string, time: int}>
     */
    public static function verify(string $rawBody, ?string $signatureHeader, string $secret, int $toleranceSeconds = 300, ?int $now = null): array
    {
        if ($secret === '') {
            throw new WebhookException('the webhook secret is empty');
        }
        if ($signatureHeader === null || $signatureHeader === '') {
            throw new WebhookException('missing SsePush-Signature header');
        }
        $t = null;
        $signatures = [];
        foreach (explode(',', $signatureHeader) as $part) {
            $kv = explode('=', trim($part), 2);
            if (count($kv) !== 2) {
                continue;
            }
            if ($kv[0] === 't' && preg_match('/^\d{1,12}$/', $kv[1])) {
                $t = (int) $kv[1];
            } elseif ($kv[0] === 'v1' && preg_match('/^[0-9a-f]{64}$/', $kv[1])) {
                $signatures[] = $kv[1];
            }
        }
        if ($t === null || $signatures === []) {
            throw new WebhookException('malformed SsePush-Signature header');
        }
        if (abs(($now ?? time()) - $t) > $toleranceSeconds) {
            throw new WebhookException('timestamp outside the tolerance (replayed or clock skew)');
        }
        $expected = hash_hmac('sha256', $t . '.' . $rawBody, $secret);
        $ok = false;
        foreach ($signatures as $s) {
            $ok = hash_equals($expected, $s) || $ok;
        }
        if (!$ok) {
            throw new WebhookException('signature mismatch (is WEBHOOK_SECRET the same on both sides?)');
        }
        $body = json_decode($rawBody, true);
        if (!is_array($body) || !isset($body['events']) || !is_array($body['events'])) {
            throw new WebhookException('body has no events array');
        }
        return $body['events'];
    }
}
