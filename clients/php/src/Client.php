<?php

declare(strict_types=1);

namespace SsePush;

/**
 * Talks to an ssepush server from a PHP backend: signs subscriber tokens to hand to a page,
 * and pushes messages to uids, groups or everyone.
 *
 *     $push = new \SsePush\Client('http://127.0.0.1:8080', ['secret' => getenv('SSEPUSH_SECRET')]);
 *     $push->push(42, ['title' => 'New order', 'id' => 1001]);
 *
 * Options (all optional except one of "secret", "publisherSecret" or "token"):
 * - secret          string  the server's JWT_SECRET; signs publisher and subscriber tokens
 * - publisherSecret string  the server's PUBLISHER_JWT_SECRET, when it has one
 * - token           string  a ready publisher token (scope "push") instead of signing one
 * - issuer          string  the server's JWT_ISSUER (put in minted tokens as "iss")
 * - audience        string  the server's JWT_AUDIENCE (put in minted tokens as "aud")
 * - timeout         float   seconds a request may take, default 5
 * - connectTimeout  float   seconds to connect, default 2 (curl; streams use "timeout")
 * - publisherTtl    int     lifetime of self-signed publisher tokens in seconds, default 300
 * - transport       string|Transport  "curl", "stream" or an object; default curl when loaded
 * - retries         int     extra attempts of a push after a timeout, a lost connection or a 503,
 *                           default 0 (off). Each push then carries a fresh Idempotency-Key that
 *                           its retries reuse, so a retry whose first attempt did arrive
 *                           publishes nothing and answers the first answer (same id).
 * - retryDelay      float   seconds before the first retry, default 0.2; doubled each time,
 *                           at most 2 s
 *
 * Publisher tokens the client signs itself carry scope "push"; disconnect(), joinGroup(),
 * leaveGroup() and groups() sign a separate one with scope "control", so a push never travels
 * with control rights. With the "token" option that one token is used for everything.
 *
 * Every call returns the server's decoded JSON answer and throws PushException (HTTP errors,
 * with the status and the server's error code) or ConnectionException (no answer).
 */
final class Client
{
    use Control;

    private const RENEW_MARGIN = 30;

    /** @var string */
    private $baseUrl;

    /** @var array<string, mixed> */
    private $options;

    /** @var Transport */
    private $transport;

    /** @var array<string, array{0: string, 1: int}> signed publisher token and renew time per scope */
    private $publisherTokens = [];

    /** @param array<string, mixed> $options */
    public function __construct(string $baseUrl, array $options = [])
    {
        if (preg_match('{^https?://}i', $baseUrl) !== 1) {
            throw new \InvalidArgumentException('ssepush: baseUrl must start with http:// or https://');
        }
        foreach (['secret', 'publisherSecret', 'token', 'issuer', 'audience'] as $key) {
            if (isset($options[$key]) && (!is_string($options[$key]) || $options[$key] === '')) {
                throw new \InvalidArgumentException("ssepush: option \"$key\" must be a non-empty string");
            }
        }
        if (!isset($options['secret']) && !isset($options['publisherSecret']) && !isset($options['token'])) {
            throw new \InvalidArgumentException(
                'ssepush: give "secret" (the server\'s JWT_SECRET) or a publisher "token"'
            );
        }
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->options = $options;
        $this->transport = self::makeTransport(
            $options['transport'] ?? null,
            (float) ($options['timeout'] ?? 5.0),
            (float) ($options['connectTimeout'] ?? 2.0)
        );
    }

    /**
     * Pushes $data (any JSON-encodable value) to one uid or a list of uids; every connection
     * of each receives it.
     *
     * @param string|int|array<int, string|int> $to
     * @param mixed $data
     * @param string|int|array<int, string|int>|null $exclude uids whose connections skip it
     * @return array{id: string, online: bool, delivered: int}
     */
    public function push($to, $data, string $event = 'message', $exclude = null): array
    {
        return $this->send(['to' => $to, 'data' => $data, 'event' => $event, 'exclude' => $exclude]);
    }

    /**
     * Pushes $data to every connection whose token names the group (or one of the groups).
     *
     * @param string|int|array<int, string|int> $group
     * @param mixed $data
     * @param string|int|array<int, string|int>|null $exclude uids whose connections skip it
     * @return array{id: string, online: bool, delivered: int}
     */
    public function pushToGroup($group, $data, string $event = 'message', $exclude = null): array
    {
        return $this->send(['group' => $group, 'data' => $data, 'event' => $event, 'exclude' => $exclude]);
    }

    /**
     * Pushes $data to every connection.
     *
     * @param mixed $data
     * @param string|int|array<int, string|int>|null $exclude uids whose connections skip it
     * @return array{id: string, online: bool, delivered: int}
     */
    public function broadcast($data, string $event = 'message', $exclude = null): array
    {
        return $this->send(['data' => $data, 'event' => $event, 'exclude' => $exclude]);
    }

    /**
     * Pushes one message given as an array with "data" and any of "to", "group", "event",
     * "exclude".
     * $idempotencyKey (1-128 of [A-Za-z0-9._:-], e.g. "order-1001-paid") makes the push safe to
     * repeat: the server publishes it once and answers every repeat with the first answer.
     *
     * @param array<string, mixed> $message
     * @return array{id: string, online: bool, delivered: int}
     */
    public function send(array $message, ?string $idempotencyKey = null): array
    {
        $answer = $this->pushRequest(self::message($message), $idempotencyKey);
        if (!self::isResult($answer)) {
            throw new PushException('ssepush: unexpected answer to POST /push', 200, 'bad_response');
        }
        return $answer;
    }

    /**
     * Publishes 1-1000 messages in one request, all or none: one bad item fails the batch.
     * $idempotencyKey: as for send().
     *
     * @param array<int, array<string, mixed>> $messages
     * @return array<int, array{id: string, online: bool, delivered: int}> one result per message
     */
    public function batch(array $messages, ?string $idempotencyKey = null): array
    {
        $items = [];
        foreach ($messages as $message) {
            $items[] = self::message($message);
        }
        $answer = $this->pushRequest($items, $idempotencyKey);
        if (!is_array($answer) || array_keys($answer) !== range(0, count($items) - 1)) {
            throw new PushException('ssepush: unexpected answer to a batch POST /push', 200, 'bad_response');
        }
        foreach ($answer as $result) {
            if (!self::isResult($result)) {
                throw new PushException('ssepush: unexpected answer to a batch POST /push', 200, 'bad_response');
            }
        }
        return $answer;
    }

    /**
     * A subscriber token for the page (`/events?token=...` or ssepush.js). The uid becomes
     * the token's "sub"; the groups decide which pushToGroup() calls it receives.
     *
     * @param string|int $uid
     * @param array<int, string|int> $groups
     * @param int $ttl seconds until the token expires; the stream closes then
     */
    public function subscriberToken($uid, array $groups = [], int $ttl = 3600): string
    {
        $secret = $this->options['secret'] ?? null;
        if (!is_string($secret)) {
            throw new \LogicException('ssepush: subscriberToken() needs the "secret" option');
        }
        if ($ttl <= 0) {
            throw new \InvalidArgumentException('ssepush: $ttl must be > 0 seconds');
        }
        $payload = ['sub' => (string) $uid] + $this->claims($ttl);
        if ($groups !== []) {
            $payload['groups'] = array_map('strval', array_values($groups));
        }
        return Jwt::sign($payload, $secret);
    }

    /** @return array<string, mixed> */
    private function claims(int $ttl): array
    {
        $now = time();
        $claims = ['iat' => $now, 'exp' => $now + $ttl];
        if (isset($this->options['issuer'])) {
            $claims['iss'] = $this->options['issuer'];
        }
        if (isset($this->options['audience'])) {
            $claims['aud'] = $this->options['audience'];
        }
        return $claims;
    }

    /**
     * The publisher token sent with a request: the "token" option, or one signed for $scope
     * ("push" or "control"), cached until shortly before it expires.
     *
     * @internal public only so the offline tests can read the scopes the client signs
     */
    public function publisherToken(string $scope = 'push'): string
    {
        if (isset($this->options['token'])) {
            return $this->options['token'];
        }
        $cached = $this->publisherTokens[$scope] ?? null;
        if ($cached !== null && time() < $cached[1]) {
            return $cached[0];
        }
        $ttl = (int) ($this->options['publisherTtl'] ?? 300);
        $secret = $this->options['publisherSecret'] ?? $this->options['secret'];
        $token = Jwt::sign(['scope' => $scope] + $this->claims($ttl), $secret);
        $this->publisherTokens[$scope] = [$token, time() + max(1, $ttl - self::RENEW_MARGIN)];
        return $token;
    }

    /**
     * POST /push with the key given, or with a fresh one when retries are on; retried on no
     * answer and on 503, with the same key.
     *
     * @param mixed $body
     * @return mixed
     */
    private function pushRequest($body, ?string $key)
    {
        if ($key !== null && preg_match('/^[A-Za-z0-9._:-]{1,128}$/', $key) !== 1) {
            throw new \InvalidArgumentException('ssepush: an idempotency key is 1-128 of [A-Za-z0-9._:-]');
        }
        $retries = max(0, (int) ($this->options['retries'] ?? 0));
        if ($key === null && $retries > 0) {
            $key = bin2hex(random_bytes(16));
        }
        $delay = (float) ($this->options['retryDelay'] ?? 0.2);
        for ($attempt = 0;; $attempt++) {
            try {
                return $this->request('POST', '/push', $body, $key);
            } catch (PushException $e) {
                $again = $e instanceof ConnectionException || $e->getStatus() === 503;
                if (!$again || $attempt >= $retries) {
                    throw $e;
                }
            }
            usleep((int) (min(2.0, $delay * (2 ** $attempt)) * 1e6));
        }
    }

    /**
     * @param mixed $body
     * @return mixed the decoded JSON answer
     */
    private function request(string $method, string $path, $body, ?string $idempotencyKey = null, string $scope = 'push')
    {
        $headers = ['Authorization: Bearer ' . $this->publisherToken($scope), 'Accept: application/json'];
        if ($idempotencyKey !== null) {
            $headers[] = 'Idempotency-Key: ' . $idempotencyKey;
        }
        $json = null;
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
            try {
                $json = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
            } catch (\JsonException $e) {
                throw new \InvalidArgumentException('ssepush: data is not JSON-encodable: ' . $e->getMessage(), 0, $e);
            }
        }
        [$status, $text] = $this->transport->request($method, $this->baseUrl . $path, $headers, $json);
        $answer = json_decode($text, true);
        if ($text === '' || json_last_error() !== JSON_ERROR_NONE) {
            throw new PushException("ssepush: HTTP $status with a body that is not JSON", $status, 'bad_response');
        }
        if ($status < 200 || $status >= 300) {
            $code = is_array($answer) && is_string($answer['error'] ?? null) ? $answer['error'] : 'http_error';
            $why = is_array($answer) && is_string($answer['message'] ?? null) ? $answer['message'] : "HTTP $status";
            throw new PushException("ssepush: $why (HTTP $status $code)", $status, $code);
        }
        return $answer;
    }

    /**
     * Drops unset fields so the server sees only what was given.
     *
     * @param array<string, mixed> $message
     * @return array<string, mixed>
     * @internal shared with Outbox::add()
     */
    public static function message(array $message): array
    {
        if (!array_key_exists('data', $message)) {
            throw new \InvalidArgumentException('ssepush: a message needs "data"');
        }
        $out = [];
        foreach (['to', 'group', 'event', 'exclude', 'data'] as $key) {
            if (array_key_exists($key, $message) && ($key === 'data' || $message[$key] !== null)) {
                $out[$key] = is_array($message[$key]) && $key !== 'data'
                    ? array_values($message[$key])
                    : $message[$key];
            }
        }
        $unknown = array_diff(array_keys($message), ['to', 'group', 'event', 'exclude', 'data']);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('ssepush: unknown message field(s): ' . implode(', ', $unknown));
        }
        return $out;
    }

    /** @param mixed $value */
    private static function isResult($value): bool
    {
        return is_array($value) && is_string($value['id'] ?? null)
            && is_bool($value['online'] ?? null) && is_int($value['delivered'] ?? null);
    }

    /** @param mixed $choice */
    private static function makeTransport($choice, float $timeout, float $connectTimeout): Transport
    {
        if ($choice instanceof Transport) {
            return $choice;
        }
        if ($choice === 'curl' || ($choice === null && extension_loaded('curl'))) {
            return new CurlTransport($timeout, min($connectTimeout, $timeout));
        }
        if ($choice === 'stream' || $choice === null) {
            return new StreamTransport($timeout);
        }
        throw new \InvalidArgumentException('ssepush: option "transport" must be "curl", "stream" or a Transport');
    }
}
