<?php

declare(strict_types=1);

namespace SsePush\Tests\Support;

use PHPUnit\Framework\TestCase;

/**
 * Base for tests against a real server. The test run (test/clients/php.test.ts) starts one
 * and passes SSEPUSH_URL and SSEPUSH_SECRET; without them these tests are skipped.
 */
abstract class ServerTestCase extends TestCase
{
    /** @var string */
    protected $url = '';

    /** @var string */
    protected $secret = '';

    /** @var Sse[] */
    private $streams = [];

    protected function setUp(): void
    {
        $url = getenv('SSEPUSH_URL');
        $secret = getenv('SSEPUSH_SECRET');
        if (!is_string($url) || $url === '' || !is_string($secret) || $secret === '') {
            $this->markTestSkipped('set SSEPUSH_URL and SSEPUSH_SECRET to a running server (npm test does)');
        }
        $this->url = $url;
        $this->secret = $secret;
    }

    protected function tearDown(): void
    {
        foreach ($this->streams as $stream) {
            $stream->close();
        }
        $this->streams = [];
    }

    protected function openEvents(string $token): Sse
    {
        $stream = Sse::open($this->url, $token);
        $this->streams[] = $stream;
        return $stream;
    }

    /**
     * One GET /poll, outside the library: status and decoded body.
     *
     * @return array{0: int, 1: array<string, mixed>}
     */
    protected function poll(string $token, ?string $cursor = null, int $timeout = 2): array
    {
        $query = ['token' => $token, 'timeout' => $timeout];
        if ($cursor !== null) {
            $query['cursor'] = $cursor;
        }
        return $this->httpGet('/poll?' . http_build_query($query), $timeout + 3);
    }

    /**
     * @return array{0: int, 1: array<string, mixed>}
     */
    protected function httpGet(string $path, float $timeout = 5.0): array
    {
        return $this->http('GET', $path, [], null, $timeout);
    }

    /**
     * A raw HTTP call with PHP streams.
     *
     * @param string[] $headers
     * @return array{0: int, 1: array<string, mixed>}
     */
    protected function http(string $method, string $path, array $headers, ?string $body, float $timeout = 5.0): array
    {
        $http = [
            'method' => $method,
            'header' => implode("\r\n", array_merge($headers, ['Connection: close'])),
            'timeout' => $timeout,
            'ignore_errors' => true,
        ];
        if ($body !== null) {
            $http['content'] = $body;
        }
        $text = file_get_contents($this->url . $path, false, stream_context_create(['http' => $http]));
        $lines = function_exists('http_get_last_response_headers')
            ? http_get_last_response_headers()
            : ($http_response_header ?? []);
        $status = preg_match('{^HTTP/\S+ (\d{3})}', (string) ($lines[0] ?? ''), $m) === 1 ? (int) $m[1] : 0;
        $decoded = json_decode((string) $text, true);
        return [$status, is_array($decoded) ? $decoded : ['raw' => $text]];
    }

    /** A loopback port with nothing listening on it. */
    protected static function closedPort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
        if ($server === false) {
            throw new \RuntimeException($error);
        }
        $name = (string) stream_socket_get_name($server, false);
        fclose($server);
        return (int) substr($name, (int) strrpos($name, ':') + 1);
    }
}
