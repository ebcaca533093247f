<?php

declare(strict_types=1);

namespace SsePush\Tests\Support;

/**
 * A raw SSE reader over a socket, independent of the library under test, so the tests see
 * what a browser would: it follows the spec for fields, comments and bare "id:" blocks.
 */
final class Sse
{
    /** @var resource */
    private $socket;

    /** @var string */
    private $buffer = '';

    /** @var array{id?: string, event?: string, data: string[]} */
    private $block = ['data' => []];

    /** @var string|null the last event id seen, bare "id:" blocks included */
    public $lastId;

    /** @var array<int, array{id: string|null, event: string, data: string}> */
    public $events = [];

    /** @param resource $socket */
    private function __construct($socket)
    {
        $this->socket = $socket;
    }

    public static function open(string $baseUrl, string $token): self
    {
        $url = parse_url($baseUrl);
        $host = $url['host'] ?? '127.0.0.1';
        $port = $url['port'] ?? 80;
        $socket = stream_socket_client("tcp://$host:$port", $errno, $error, 2.0);
        if ($socket === false) {
            throw new \RuntimeException("cannot connect to $host:$port: $error");
        }
        // HTTP/1.0: the server answers without chunked encoding, so the body is the raw stream.
        fwrite($socket, 'GET /events?token=' . rawurlencode($token) . " HTTP/1.0\r\n"
            . "Host: $host:$port\r\nAccept: text/event-stream\r\n\r\n");
        $sse = new self($socket);
        $head = $sse->readHead(5.0);
        if (preg_match('{^HTTP/\S+ 200 }', $head) !== 1) {
            fclose($socket);
            throw new \RuntimeException("GET /events did not answer 200:\n$head");
        }
        return $sse;
    }

    private function readHead(float $seconds): string
    {
        $deadline = microtime(true) + $seconds;
        while (($end = strpos($this->buffer, "\r\n\r\n")) === false) {
            if (!$this->readSome($deadline)) {
                throw new \RuntimeException("no response head within {$seconds}s: {$this->buffer}");
            }
        }
        $head = substr($this->buffer, 0, $end);
        $this->buffer = substr($this->buffer, $end + 4);
        return $head;
    }

    /** Reads until $until($this) holds or $seconds pass (then throws with what arrived). */
    public function waitUntil(callable $until, float $seconds = 5.0): void
    {
        $deadline = microtime(true) + $seconds;
        $this->parse();
        while (!$until($this)) {
            if (!$this->readSome($deadline)) {
                throw new \RuntimeException('timed out; events so far: ' . json_encode($this->events));
            }
            $this->parse();
        }
    }

    public function waitForEvents(int $count, float $seconds = 5.0): void
    {
        $this->waitUntil(static function (self $s) use ($count): bool {
            return count($s->events) >= $count;
        }, $seconds);
    }

    public function waitForId(float $seconds = 5.0): string
    {
        $this->waitUntil(static function (self $s): bool {
            return $s->lastId !== null;
        }, $seconds);
        return (string) $this->lastId;
    }

    private function readSome(float $deadline): bool
    {
        $left = $deadline - microtime(true);
        if ($left <= 0 || feof($this->socket)) {
            return false;
        }
        $read = [$this->socket];
        $write = $except = null;
        $ready = stream_select($read, $write, $except, (int) $left, (int) (($left - (int) $left) * 1e6));
        if ($ready === false || $ready === 0) {
            return false;
        }
        $chunk = fread($this->socket, 65536);
        if ($chunk === false || ($chunk === '' && feof($this->socket))) {
            return false;
        }
        $this->buffer .= $chunk;
        return true;
    }

    private function parse(): void
    {
        while (($nl = strpos($this->buffer, "\n")) !== false) {
            $line = rtrim(substr($this->buffer, 0, $nl), "\r");
            $this->buffer = substr($this->buffer, $nl + 1);
            $this->line($line);
        }
    }

    private function line(string $line): void
    {
        if ($line === '') {
            $block = $this->block;
            $this->block = ['data' => []];
            if (isset($block['id'])) {
                $this->lastId = $block['id'];
            }
            if ($block['data'] !== []) {
                $this->events[] = [
                    'id' => $this->lastId,
                    'event' => $block['event'] ?? 'message',
                    'data' => implode("\n", $block['data']),
                ];
            }
            return;
        }
        if ($line[0] === ':') {
            return;
        }
        $parts = explode(':', $line, 2);
        $field = $parts[0];
        $value = $parts[1] ?? '';
        if ($value !== '' && $value[0] === ' ') {
            $value = substr($value, 1);
        }
        if ($field === 'data') {
            $this->block['data'][] = $value;
        } elseif ($field === 'event') {
            $this->block['event'] = $value;
        } elseif ($field === 'id') {
            $this->block['id'] = $value;
        }
    }

    public function close(): void
    {
        if (is_resource($this->socket)) {
            fclose($this->socket);
        }
    }
}
