<?php

declare(strict_types=1);

namespace SsePush;

/**
 * A call the server refused or could not answer. getStatus() is the HTTP status (0 when no
 * answer came) and getErrorCode() the server's "error" code, e.g. "token_expired",
 * "bad_request", "too_large", or a client-side code: "connection_failed", "timeout",
 * "bad_response".
 */
class PushException extends \RuntimeException
{
    /** @var int */
    private $status;

    /** @var string */
    private $errorCode;

    public function __construct(string $message, int $status, string $errorCode, ?\Throwable $previous = null)
    {
        parent::__construct($message, $status, $previous);
        $this->status = $status;
        $this->errorCode = $errorCode;
    }

    /** The HTTP status of the answer, or 0 when the server could not be reached. */
    public function getStatus(): int
    {
        return $this->status;
    }

    /** The server's machine-readable error code (the "error" field of its JSON answer). */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }
}
