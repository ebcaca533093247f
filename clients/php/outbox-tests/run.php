<?php

/**
 * Runs the plain-PDO and ThinkPHP snippets of docs/outbox.md against a real database, plus a
 * rolled-back Outbox::add. ThinkPHP: a stand-in, because ThinkPHP is not installable here (Debian
 * does not package it and no Composer registry is reachable): its Db facade below runs real SQL on
 * one PDO. The Laravel snippet runs in a real Laravel application (test/clients/apps/laravel-outbox).
 * Driven by test/clients/outbox-sdk.test.ts, which checks what ssepush delivers:
 *   php run.php pdo|thinkphp
 *   OUTBOX_DSN, OUTBOX_USER, OUTBOX_PASS  the database; SSEPUSH_UID  the addressee.
 * Order ids: 1 plain PDO, 2 rolled back, 4 ThinkPHP (3 is Laravel's).
 */

declare(strict_types=1);

namespace think\facade {
    final class Query
    {
        /** @var string */
        private $table;
        /** @var array<int, array{0: string, 1: mixed}> */
        private $where = [];

        public function __construct(string $table)
        {
            $this->table = $table;
        }

        /** @param mixed $value */
        public function where(string $column, $value): self
        {
            $this->where[] = [$column, $value];
            return $this;
        }

        /** @param array<string, mixed> $values */
        public function update(array $values): int
        {
            $set = implode(', ', array_map(static function ($c) { return "$c = ?"; }, array_keys($values)));
            $cond = implode(' AND ', array_map(static function ($w) { return "{$w[0]} = ?"; }, $this->where));
            $stmt = Db::$pdo->prepare("UPDATE {$this->table} SET $set WHERE $cond");
            $stmt->execute(array_merge(array_values($values), array_column($this->where, 1)));
            return $stmt->rowCount();
        }
    }

    /** ThinkPHP's Db facade, as far as the snippet uses it, over one real PDO. */
    final class Db
    {
        /** @var \PDO */
        public static $pdo;

        /** @return mixed */
        public static function transaction(callable $work)
        {
            self::$pdo->beginTransaction();
            try {
                $result = $work();
                self::$pdo->commit();
                return $result;
            } catch (\Throwable $e) {
                self::$pdo->rollBack();
                throw $e;
            }
        }

        public static function name(string $table): Query
        {
            return new Query($table);
        }

        public static function connect(): object
        {
            return new class {
                public function getPdo(): \PDO
                {
                    return Db::$pdo;
                }
            };
        }
    }
}

namespace {
    require __DIR__ . '/../autoload.php';

    /** The first ```php block after $heading in docs/outbox.md. */
    function snippet(string $heading): string
    {
        $doc = file_get_contents(__DIR__ . '/../../../docs/outbox.md');
        $at = strpos($doc, "\n$heading\n");
        if ($at === false || preg_match('/```php\n(.*?)```/s', $doc, $m, 0, $at) !== 1) {
            throw new \RuntimeException("no php block under $heading");
        }
        return $m[1];
    }

    $pdo = new \PDO((string) getenv('OUTBOX_DSN'), (string) getenv('OUTBOX_USER'), (string) getenv('OUTBOX_PASS'));
    $pdo->setAttribute(\PDO::ATTR_ERRMODE, \PDO::ERRMODE_EXCEPTION);
    \think\facade\Db::$pdo = $pdo;
    $userId = (string) getenv('SSEPUSH_UID');

    if (($argv[1] ?? '') === 'pdo') {
        $orderId = 1;
        eval(snippet('### PHP: plain PDO'));

        $pdo->beginTransaction();
        \SsePush\Outbox::add($pdo, ['to' => $userId, 'event' => 'order.paid', 'data' => ['order' => 2]]);
        $pdo->rollBack();
    } elseif (($argv[1] ?? '') === 'thinkphp') {
        $orderId = 4;
        eval(snippet('### ThinkPHP 6 / 8'));
    } else {
        throw new \InvalidArgumentException('usage: php run.php pdo|thinkphp');
    }

    $paid = $pdo->query("SELECT COUNT(*) FROM orders WHERE status = 'paid'")->fetchColumn();
    echo "ok: $paid orders paid\n";
}
