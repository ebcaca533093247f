<?php

/**
 * Runs the PHP snippets of docs/outbox.md (plain PDO, Laravel, ThinkPHP) against a real
 * database, plus a rolled-back Outbox::add, with the smallest framework stand-ins that run real
 * SQL on one PDO. Driven by test/clients/outbox-sdk.test.ts, which checks what ssepush delivers:
 *   OUTBOX_DSN, OUTBOX_USER, OUTBOX_PASS  the database; SSEPUSH_UID  the addressee.
 * Order ids: 1 plain PDO, 2 rolled back, 3 Laravel, 4 ThinkPHP.
 */

declare(strict_types=1);

namespace Illuminate\Support\Facades {
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
            $stmt = DB::pdo()->prepare("UPDATE {$this->table} SET $set WHERE $cond");
            $stmt->execute(array_merge(array_values($values), array_column($this->where, 1)));
            return $stmt->rowCount();
        }
    }

    final class DB
    {
        /** @var \PDO|null */
        public static $pdo;

        public static function pdo(): \PDO
        {
            return self::$pdo;
        }

        /** @return mixed */
        public static function transaction(\Closure $work)
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

        public static function table(string $name): Query
        {
            return new Query($name);
        }

        public static function connection(): object
        {
            return new class {
                public function getPdo(): \PDO
                {
                    return DB::pdo();
                }
            };
        }
    }
}

namespace think\facade {
    use Illuminate\Support\Facades\DB as Laravel;

    final class Db
    {
        /** @return mixed */
        public static function transaction(callable $work)
        {
            return Laravel::transaction(\Closure::fromCallable($work));
        }

        public static function name(string $table): \Illuminate\Support\Facades\Query
        {
            return Laravel::table($table);
        }

        public static function connect(): object
        {
            return Laravel::connection();
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
    \Illuminate\Support\Facades\DB::$pdo = $pdo;
    $userId = (string) getenv('SSEPUSH_UID');

    $orderId = 1;
    eval(snippet('### PHP: plain PDO'));

    $pdo->beginTransaction();
    \SsePush\Outbox::add($pdo, ['to' => $userId, 'event' => 'order.paid', 'data' => ['order' => 2]]);
    $pdo->rollBack();

    $orderId = 3;
    eval(snippet('### Laravel'));
    $orderId = 4;
    eval(snippet('### ThinkPHP 6 / 8'));

    $paid = $pdo->query("SELECT COUNT(*) FROM orders WHERE status = 'paid'")->fetchColumn();
    echo "ok: $paid orders paid\n";
}
