<?php

declare(strict_types=1);

namespace SsePush;

/**
 * The transport used without the curl extension: PHP's http:// stream wrapper. Its timeout
 * bounds the connection and each read rather than the whole request.
 */
final class StreamTransport implements Transport
{
    /** @var float */
    private $timeout;

    /** @param float $timeout seconds to connect and for each read */
    public function __construct(float $timeout)
    {
        $this->timeout = $timeout;
    }

    public function request(string $method, string $url, array $headers, ?string $body): array
    {
        $headers[] = 'Connection: close';
        $http = [
            'method' => $method,
            'header' => implode("\r\n", $headers),
            'timeout' => $this->timeout,
            'ignore_errors' => true,
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ];
        if ($body !== null) {
            $http['content'] = $body;
        }
        $context = stream_context_create(['http' => $http]);
        $started = microtime(true);
        $answer = @file_get_contents($url, false, $context);
        $responseHeaders = function_exists('http_get_last_response_headers')
            ? http_get_last_response_headers()
            : ($http_response_header ?? null);
        if ($answer === false || !is_array($responseHeaders) || $responseHeaders === []) {
            $last = error_get_last();
            $why = $last !== null ? $last['message'] : 'no answer';
            $code = microtime(true) - $started >= $this->timeout * 0.9 ? 'timeout' : 'connection_failed';
            throw new ConnectionException("ssepush: $method $url failed: $why", 0, $code);
        }
        $status = 0;
        foreach ($responseHeaders as $line) {
            // With redirects or 100-continue several status lines come; the last one counts.
            if (preg_match('{^HTTP/\S+\s+(\d{3})}', $line, $m) === 1) {
                $status = (int) $m[1];
            }
        }
        return [$status, $answer];
    }
}
