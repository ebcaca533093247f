<?php

declare(strict_types=1);

namespace SsePush;

/** Sends one HTTP request. Implemented with curl (CurlTransport) and PHP streams (StreamTransport). */
interface Transport
{
    /**
     * @param string[] $headers "Name: value" lines
     * @return array{0: int, 1: string} HTTP status and body
     * @throws ConnectionException when no answer came within the timeouts
     */
    public function request(string $method, string $url, array $headers, ?string $body): array;
}
