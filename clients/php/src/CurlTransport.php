<?php

declare(strict_types=1);

namespace SsePush;

/** The transport used when the curl extension is loaded. */
final class CurlTransport implements Transport
{
    /** @var float */
    private $timeout;

    /** @var float */
    private $connectTimeout;

    /** @var resource|\CurlHandle|null kept between requests so the connection is reused */
    private $handle;

    /**
     * @param float $timeout        seconds for the whole request
     * @param float $connectTimeout seconds to establish the connection
     */
    public function __construct(float $timeout, float $connectTimeout)
    {
        if (!extension_loaded('curl')) {
            throw new \LogicException('ssepush: the curl extension is not loaded; use StreamTransport');
        }
        $this->timeout = $timeout;
        $this->connectTimeout = $connectTimeout;
    }

    public function request(string $method, string $url, array $headers, ?string $body): array
    {
        if ($this->handle === null) {
            $handle = curl_init();
            if ($handle === false) {
                throw new ConnectionException('ssepush: cannot create a curl handle', 0, 'connection_failed');
            }
            $this->handle = $handle;
        } else {
            curl_reset($this->handle);
        }
        $ch = $this->handle;
        $options = [
            CURLOPT_URL => $url,
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_NOSIGNAL => true,
            CURLOPT_TIMEOUT_MS => (int) ceil($this->timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil($this->connectTimeout * 1000),
        ];
        if (defined('CURLOPT_PROTOCOLS')) {
            $options[CURLOPT_PROTOCOLS] = CURLPROTO_HTTP | CURLPROTO_HTTPS;
        }
        if ($body !== null) {
            $options[CURLOPT_POSTFIELDS] = $body;
        }
        curl_setopt_array($ch, $options);
        $answer = curl_exec($ch);
        $errno = curl_errno($ch);
        $error = curl_error($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        if ($errno !== 0 || !is_string($answer)) {
            $code = $errno === 28 ? 'timeout' : 'connection_failed';
            throw new ConnectionException("ssepush: $method $url failed: $error", 0, $code);
        }
        return [$status, $answer];
    }
}
