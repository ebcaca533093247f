<?php

declare(strict_types=1);

namespace SsePush;

/** Minimal HS256 JSON Web Token signing: all the server needs, with no dependency. */
final class Jwt
{
    /**
     * Signs $payload with $secret (HMAC-SHA256).
     *
     * @param array<string, mixed> $payload
     */
    public static function sign(array $payload, string $secret): string
    {
        if ($secret === '') {
            throw new \InvalidArgumentException('ssepush: the JWT secret must not be empty');
        }
        $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
        $head = self::base64url((string) json_encode(['alg' => 'HS256', 'typ' => 'JWT'], $flags))
            . '.' . self::base64url((string) json_encode((object) $payload, $flags));
        return $head . '.' . self::base64url(hash_hmac('sha256', $head, $secret, true));
    }

    public static function base64url(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }
}
