<?php

declare(strict_types=1);

namespace SsePush;

/**
 * The transactional outbox: a push written into your own database, inside your own
 * transaction. ssepush (started with OUTBOX_URL) publishes each committed row exactly once, in
 * id order; a rolled-back transaction publishes nothing. Create the table with
 * `ssepush outbox schema mysql|postgres` (or `npm run outbox -- schema mysql`).
 *
 *     $pdo->beginTransaction();
 *     $pdo->prepare('UPDATE orders SET paid = 1 WHERE id = ?')->execute([$orderId]);
 *     \SsePush\Outbox::add($pdo, ['to' => $userId, 'event' => 'order.paid', 'data' => ['order' => $orderId]]);
 *     $pdo->commit();
 *
 * MySQL/MariaDB and PostgreSQL through PDO; no other dependency.
 */
final class Outbox
{
    /**
     * Inserts one push (the same fields as Client::send(): "data" and any of "to", "group",
     * "event") and returns the new row's id. Validation of names happens in ssepush: a row it
     * refuses goes to "<table>_dead" with the reason, without blocking the rows after it.
     *
     * @param array<string, mixed> $message
     */
    public static function add(\PDO $pdo, array $message, string $table = 'ssepush_outbox'): string
    {
        if (preg_match('/^[A-Za-z_][A-Za-z0-9_]{0,57}$/', $table) !== 1) {
            throw new \InvalidArgumentException('ssepush: the outbox table name must be 1-58 of [A-Za-z0-9_]');
        }
        try {
            $json = json_encode(
                Client::message($message),
                JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR
            );
        } catch (\JsonException $e) {
            throw new \InvalidArgumentException('ssepush: data is not JSON-encodable: ' . $e->getMessage(), 0, $e);
        }
        if ($pdo->getAttribute(\PDO::ATTR_DRIVER_NAME) === 'pgsql') {
            $stmt = $pdo->prepare("INSERT INTO \"$table\" (body) VALUES (?) RETURNING id");
            $stmt->execute([$json]);
            return (string) $stmt->fetchColumn();
        }
        $pdo->prepare("INSERT INTO `$table` (body) VALUES (?)")->execute([$json]);
        return (string) $pdo->lastInsertId();
    }
}
