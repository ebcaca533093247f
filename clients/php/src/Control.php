<?php

declare(strict_types=1);

namespace SsePush;

/**
 * Presence reads (publisher token with scope "push") and control calls (a separate token with
 * scope "control"): kick and revoke uids, change their groups at run time. Used by Client.
 */
trait Control
{
    /**
     * Ends every stream and waiting poll of $uid (a uid or a list of up to 1000) on every node;
     * the client gets `event: disconnect` with the reason and whether to reconnect.
     *
     * Options: "reason" (string, at most 128 characters, default "disconnected"), "reconnect"
     * (bool, default true), "revoke" (bool, default false: also refuse the uid's subscriber
     * tokens issued before this call, with 401 token_revoked).
     *
     * @param string|int|array<int, string|int> $uid
     * @param array{reason?: string, reconnect?: bool, revoke?: bool} $options
     * @return array{uids: int, connections: int} how many of them were online, with how many connections
     */
    public function disconnect($uid, array $options = []): array
    {
        $unknown = array_diff(array_keys($options), ['reason', 'reconnect', 'revoke']);
        if ($unknown !== []) {
            throw new \InvalidArgumentException('ssepush: unknown disconnect option(s): ' . implode(', ', $unknown));
        }
        $body = ['uid' => self::listOrOne($uid)];
        foreach ($options as $key => $value) {
            if ($value !== null) {
                $body[$key] = $value;
            }
        }
        return $this->counted('POST', '/disconnect', $body);
    }

    /**
     * Adds $uid (or each of a list) to $groups at run time, on every live connection and on
     * reconnects, on every node.
     *
     * @param string|int|array<int, string|int> $uid
     * @param string|int|array<int, string|int> $groups
     * @return array{uids: int, connections: int}
     */
    public function joinGroup($uid, $groups): array
    {
        return $this->groups($uid, $groups, null);
    }

    /**
     * Removes $uid (or each of a list) from $groups at run time, token groups included.
     *
     * @param string|int|array<int, string|int> $uid
     * @param string|int|array<int, string|int> $groups
     * @return array{uids: int, connections: int}
     */
    public function leaveGroup($uid, $groups): array
    {
        return $this->groups($uid, null, $groups);
    }

    /**
     * Joins and leaves groups in one call (POST /groups); a group may not be in both.
     *
     * @param string|int|array<int, string|int> $uid
     * @param string|int|array<int, string|int>|null $join
     * @param string|int|array<int, string|int>|null $leave
     * @return array{uids: int, connections: int}
     */
    public function groups($uid, $join = null, $leave = null): array
    {
        if ($join === null && $leave === null) {
            throw new \InvalidArgumentException('ssepush: groups() needs $join or $leave');
        }
        $body = ['uid' => self::listOrOne($uid)];
        if ($join !== null) {
            $body['join'] = self::listOrOne($join);
        }
        if ($leave !== null) {
            $body['leave'] = self::listOrOne($leave);
        }
        return $this->counted('POST', '/groups', $body);
    }

    /**
     * Totals of uids and connections online; with uids, also connections per uid under
     * "online" (0 when offline).
     *
     * @param array<int, string|int> $uids
     * @return array{uids: int, connections: int, online?: array<string, int>}
     */
    public function online(array $uids = []): array
    {
        return $this->counted('GET', self::query('/online', ['uid' => $uids]), null);
    }

    /** Whether $uid has at least one open connection right now. */
    public function isOnline($uid): bool
    {
        $answer = $this->online([$uid]);
        return ($answer['online'][(string) $uid] ?? 0) > 0;
    }

    /**
     * Online uids and connections per group, e.g. ['room' => ['uids' => 3, 'connections' => 5]].
     *
     * @param array<int, string|int> $groups
     * @return array<string, array{uids: int, connections: int}>
     */
    public function groupCounts(array $groups): array
    {
        if ($groups === []) {
            return [];
        }
        $answer = $this->counted('GET', self::query('/online', ['group' => $groups]), null);
        if (!is_array($answer['groups'] ?? null)) {
            throw new PushException('ssepush: unexpected answer to GET /online?group=', 200, 'bad_response');
        }
        return $answer['groups'];
    }

    /**
     * Every online uid (or every online member of $group), fetched $pageSize (1-1000) at a
     * time as the loop asks for more; no uid twice in one walk.
     *
     * @return \Generator<int, string>
     */
    public function onlineUids(?string $group = null, int $pageSize = 1000): \Generator
    {
        if ($pageSize < 1 || $pageSize > 1000) {
            throw new \InvalidArgumentException('ssepush: $pageSize must be 1-1000');
        }
        $cursor = null;
        do {
            $params = ['limit' => [$pageSize]];
            if ($group !== null) {
                $params['group'] = [$group];
            }
            if ($cursor !== null) {
                $params['cursor'] = [$cursor];
            }
            $page = $this->request('GET', self::query('/online/uids', $params), null);
            if (!is_array($page) || !is_array($page['uids'] ?? null) || !array_key_exists('cursor', $page)) {
                throw new PushException('ssepush: unexpected answer to GET /online/uids', 200, 'bad_response');
            }
            foreach ($page['uids'] as $uid) {
                yield (string) $uid;
            }
            $cursor = is_string($page['cursor']) ? $page['cursor'] : null;
        } while ($cursor !== null);
    }

    /**
     * A request whose answer has "uids" and "connections" counts; control paths are sent with
     * the "control" token.
     *
     * @param array<string, mixed>|null $body
     * @return array<string, mixed>
     */
    private function counted(string $method, string $path, ?array $body): array
    {
        $scope = $method === 'POST' ? 'control' : 'push';
        $answer = $this->request($method, $path, $body, null, $scope);
        if (!is_array($answer) || !is_int($answer['uids'] ?? null) || !is_int($answer['connections'] ?? null)) {
            throw new PushException("ssepush: unexpected answer to $method " . strtok($path, '?'), 200, 'bad_response');
        }
        return $answer;
    }

    /** @param array<string, array<int, string|int>> $params */
    private static function query(string $path, array $params): string
    {
        $pairs = [];
        foreach ($params as $name => $values) {
            foreach ($values as $value) {
                $pairs[] = $name . '=' . rawurlencode((string) $value);
            }
        }
        return $pairs === [] ? $path : $path . '?' . implode('&', $pairs);
    }

    /**
     * @param string|int|array<int, string|int> $value
     * @return string|int|array<int, string|int>
     */
    private static function listOrOne($value)
    {
        return is_array($value) ? array_values($value) : $value;
    }
}
