-- Golden SQL for mysql (MySQLConnector, sqlglot dialect mariadb): the statements
-- Quinto compiles for the suite in tests/test_golden_sql.py. Rewrite after a deliberate change with
-- QUINTO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_sql.py, and review the diff.

-- scan: one partition
SELECT COUNT(*) AS `m0`,
  COUNT(CASE WHEN (`account_id` IS NULL) THEN 1 END) AS `m1`,
  COUNT(CASE WHEN (`country` IS NULL OR `country` IN (CAST(:qp0 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m2`,
  COUNT(`play_id`) AS `m3`,
  COUNT(DISTINCT `play_id`) AS `m4`,
  COUNT(CASE WHEN NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL THEN 1 END) AS `m5`,
  COUNT(DISTINCT `account_id`, `device`, `title`) AS `m6`,
  COUNT(CASE WHEN NOT `country` IS NULL AND NOT (`country` IN (CAST(:qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp3 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m7`,
  COUNT(CASE WHEN NOT `email` IS NULL AND NOT (CAST(`email` AS CHAR) REGEXP CONCAT('(?-i)', :qp4)) THEN 1 END) AS `m8`,
  COUNT(CASE WHEN NOT `duration_s` IS NULL AND NOT (`duration_s` >= :qp5 AND `duration_s` <= :qp6) THEN 1 END) AS `m9`,
  COUNT(CASE WHEN NOT `device` IS NULL AND NOT (CHAR_LENGTH(CAST(`device` AS CHAR)) = :qp7 AND CHAR_LENGTH(CAST(`device` AS CHAR)) >= :qp8 AND CHAR_LENGTH(CAST(`device` AS CHAR)) <= :qp9) THEN 1 END) AS `m10`,
  MIN(`duration_s`) AS `m11`,
  MAX(`duration_s`) AS `m12`,
  AVG(`duration_s`) AS `m13`,
  SUM(`revenue`) AS `m14`,
  STDDEV_SAMP(`duration_s`) AS `m15`,
  MAX(`event_ts`) AS `m16`,
  COUNT(CASE WHEN duration_s < 0 THEN 1 END) AS `m17`,
  COUNT(CASE WHEN (`select` IS NULL) THEN 1 END) AS `m18`,
  COUNT(CASE WHEN NOT `order` IS NULL AND NOT `Group` IS NULL THEN 1 END) AS `m19`,
  COUNT(DISTINCT `order`, `Group`) AS `m20`
FROM `dw`.`fact_playback`
WHERE `ds` = :qp10;
-- params: {"qp0": "zz-missing", "qp1": "", "qp10": "2026-11-27", "qp2": "zz-valid-a", "qp3": "zz-valid-b", "qp4": "^[^@]+@zz-regex$", "qp5": 0, "qp6": 86400, "qp7": 2, "qp8": 1, "qp9": 3}

-- scan: two partitions (GROUP BY partition)
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m0`,
  COUNT(CASE WHEN (`account_id` IS NULL) THEN 1 END) AS `m1`,
  COUNT(CASE WHEN (`country` IS NULL OR `country` IN (CAST(:qp0 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m2`,
  COUNT(`play_id`) AS `m3`,
  COUNT(DISTINCT `play_id`) AS `m4`,
  COUNT(CASE WHEN NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL THEN 1 END) AS `m5`,
  COUNT(DISTINCT `account_id`, `device`, `title`) AS `m6`,
  COUNT(CASE WHEN NOT `country` IS NULL AND NOT (`country` IN (CAST(:qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp3 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m7`,
  COUNT(CASE WHEN NOT `email` IS NULL AND NOT (CAST(`email` AS CHAR) REGEXP CONCAT('(?-i)', :qp4)) THEN 1 END) AS `m8`,
  COUNT(CASE WHEN NOT `duration_s` IS NULL AND NOT (`duration_s` >= :qp5 AND `duration_s` <= :qp6) THEN 1 END) AS `m9`,
  COUNT(CASE WHEN NOT `device` IS NULL AND NOT (CHAR_LENGTH(CAST(`device` AS CHAR)) = :qp7 AND CHAR_LENGTH(CAST(`device` AS CHAR)) >= :qp8 AND CHAR_LENGTH(CAST(`device` AS CHAR)) <= :qp9) THEN 1 END) AS `m10`,
  MIN(`duration_s`) AS `m11`,
  MAX(`duration_s`) AS `m12`,
  AVG(`duration_s`) AS `m13`,
  SUM(`revenue`) AS `m14`,
  STDDEV_SAMP(`duration_s`) AS `m15`,
  MAX(`event_ts`) AS `m16`,
  COUNT(CASE WHEN duration_s < 0 THEN 1 END) AS `m17`,
  COUNT(CASE WHEN (`select` IS NULL) THEN 1 END) AS `m18`,
  COUNT(CASE WHEN NOT `order` IS NULL AND NOT `Group` IS NULL THEN 1 END) AS `m19`,
  COUNT(DISTINCT `order`, `Group`) AS `m20`
FROM `dw`.`fact_playback`
WHERE `ds` IN (:qp10, :qp11)
GROUP BY `ds`;
-- params: {"qp0": "zz-missing", "qp1": "", "qp10": "2026-11-27", "qp11": "2026-11-28", "qp2": "zz-valid-a", "qp3": "zz-valid-b", "qp4": "^[^@]+@zz-regex$", "qp5": 0, "qp6": 86400, "qp7": 2, "qp8": 1, "qp9": 3}

-- scan: a whole table
SELECT COUNT(*) AS `m0`,
  COUNT(CASE WHEN (`account_id` IS NULL) THEN 1 END) AS `m1`,
  COUNT(CASE WHEN (`country` IS NULL OR `country` IN (CAST(:qp0 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m2`,
  COUNT(`play_id`) AS `m3`,
  COUNT(DISTINCT `play_id`) AS `m4`,
  COUNT(CASE WHEN NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL THEN 1 END) AS `m5`,
  COUNT(DISTINCT `account_id`, `device`, `title`) AS `m6`,
  COUNT(CASE WHEN NOT `country` IS NULL AND NOT (`country` IN (CAST(:qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp3 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m7`,
  COUNT(CASE WHEN NOT `email` IS NULL AND NOT (CAST(`email` AS CHAR) REGEXP CONCAT('(?-i)', :qp4)) THEN 1 END) AS `m8`,
  COUNT(CASE WHEN NOT `duration_s` IS NULL AND NOT (`duration_s` >= :qp5 AND `duration_s` <= :qp6) THEN 1 END) AS `m9`,
  COUNT(CASE WHEN NOT `device` IS NULL AND NOT (CHAR_LENGTH(CAST(`device` AS CHAR)) = :qp7 AND CHAR_LENGTH(CAST(`device` AS CHAR)) >= :qp8 AND CHAR_LENGTH(CAST(`device` AS CHAR)) <= :qp9) THEN 1 END) AS `m10`,
  MIN(`duration_s`) AS `m11`,
  MAX(`duration_s`) AS `m12`,
  AVG(`duration_s`) AS `m13`,
  SUM(`revenue`) AS `m14`,
  STDDEV_SAMP(`duration_s`) AS `m15`,
  MAX(`event_ts`) AS `m16`,
  COUNT(CASE WHEN duration_s < 0 THEN 1 END) AS `m17`,
  COUNT(CASE WHEN (`select` IS NULL) THEN 1 END) AS `m18`,
  COUNT(CASE WHEN NOT `order` IS NULL AND NOT `Group` IS NULL THEN 1 END) AS `m19`,
  COUNT(DISTINCT `order`, `Group`) AS `m20`
FROM `dw`.`fact_playback`;
-- params: {"qp0": "zz-missing", "qp1": "", "qp2": "zz-valid-a", "qp3": "zz-valid-b", "qp4": "^[^@]+@zz-regex$", "qp5": 0, "qp6": 86400, "qp7": 2, "qp8": 1, "qp9": 3}

-- scan: a backfill's consecutive partitions (a range)
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m0`,
  COUNT(CASE WHEN (`account_id` IS NULL) THEN 1 END) AS `m1`,
  COUNT(CASE WHEN (`country` IS NULL OR `country` IN (CAST(:qp0 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m2`,
  COUNT(`play_id`) AS `m3`,
  COUNT(DISTINCT `play_id`) AS `m4`,
  COUNT(CASE WHEN NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL THEN 1 END) AS `m5`,
  COUNT(DISTINCT `account_id`, `device`, `title`) AS `m6`,
  COUNT(CASE WHEN NOT `country` IS NULL AND NOT (`country` IN (CAST(:qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp3 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)) THEN 1 END) AS `m7`,
  COUNT(CASE WHEN NOT `email` IS NULL AND NOT (CAST(`email` AS CHAR) REGEXP CONCAT('(?-i)', :qp4)) THEN 1 END) AS `m8`,
  COUNT(CASE WHEN NOT `duration_s` IS NULL AND NOT (`duration_s` >= :qp5 AND `duration_s` <= :qp6) THEN 1 END) AS `m9`,
  COUNT(CASE WHEN NOT `device` IS NULL AND NOT (CHAR_LENGTH(CAST(`device` AS CHAR)) = :qp7 AND CHAR_LENGTH(CAST(`device` AS CHAR)) >= :qp8 AND CHAR_LENGTH(CAST(`device` AS CHAR)) <= :qp9) THEN 1 END) AS `m10`,
  MIN(`duration_s`) AS `m11`,
  MAX(`duration_s`) AS `m12`,
  AVG(`duration_s`) AS `m13`,
  SUM(`revenue`) AS `m14`,
  STDDEV_SAMP(`duration_s`) AS `m15`,
  MAX(`event_ts`) AS `m16`,
  COUNT(CASE WHEN duration_s < 0 THEN 1 END) AS `m17`,
  COUNT(CASE WHEN (`select` IS NULL) THEN 1 END) AS `m18`,
  COUNT(CASE WHEN NOT `order` IS NULL AND NOT `Group` IS NULL THEN 1 END) AS `m19`,
  COUNT(DISTINCT `order`, `Group`) AS `m20`
FROM `dw`.`fact_playback`
WHERE `ds` >= :qp10 AND `ds` <= :qp11
GROUP BY `ds`;
-- params: {"qp0": "zz-missing", "qp1": "", "qp10": "2026-11-27", "qp11": "2026-11-28", "qp2": "zz-valid-a", "qp3": "zz-valid-b", "qp4": "^[^@]+@zz-regex$", "qp5": 0, "qp6": 86400, "qp7": 2, "qp8": 1, "qp9": 3}

-- scan, distinct counts in the form 'count': one partition
SELECT COUNT(*) AS `m0`,
  COUNT(DISTINCT `play_id`) AS `m1`,
  COUNT(DISTINCT `account_id`, `device`, `title`) AS `m2`
FROM `dw`.`fact_playback`
WHERE `ds` = :qp0;
-- params: {"qp0": "2026-11-27"}

-- scan, distinct counts in the form 'count': two partitions
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m0`,
  COUNT(DISTINCT `play_id`) AS `m1`,
  COUNT(DISTINCT `account_id`, `device`, `title`) AS `m2`
FROM `dw`.`fact_playback`
WHERE `ds` IN (:qp0, :qp1)
GROUP BY `ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- scan, distinct counts in the form 'grouped': one partition
SELECT `s`.`m0` AS `m0`,
  `d_m1`.`n` AS `m1`,
  `d_m2`.`n` AS `m2`
FROM (SELECT COUNT(*) AS `m0`
  FROM `dw`.`fact_playback`
  WHERE `ds` = :qp0) AS `s`
CROSS JOIN (SELECT COUNT(*) AS `n`
  FROM (SELECT `play_id`
    FROM `dw`.`fact_playback`
    WHERE NOT `play_id` IS NULL AND `ds` = :qp1
    GROUP BY `play_id`) AS `g`) AS `d_m1`
CROSS JOIN (SELECT COUNT(*) AS `n`
  FROM (SELECT `account_id`,
      `device`,
      `title`
    FROM `dw`.`fact_playback`
    WHERE (NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL) AND `ds` = :qp2
    GROUP BY `account_id`, `device`, `title`) AS `g`) AS `d_m2`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-27", "qp2": "2026-11-27"}

-- scan, distinct counts in the form 'grouped': two partitions
SELECT `s`.`quinto_partition` AS `quinto_partition`,
  `s`.`m0` AS `m0`,
  COALESCE(`d_m1`.`n`, 0) AS `m1`,
  COALESCE(`d_m2`.`n`, 0) AS `m2`
FROM (SELECT `ds` AS `quinto_partition`,
    COUNT(*) AS `m0`
  FROM `dw`.`fact_playback`
  WHERE `ds` IN (:qp0, :qp1)
  GROUP BY `ds`) AS `s`
LEFT JOIN (SELECT `ds` AS `quinto_partition`,
    COUNT(*) AS `n`
  FROM (SELECT `ds`,
      `play_id`
    FROM `dw`.`fact_playback`
    WHERE NOT `play_id` IS NULL AND `ds` IN (:qp2, :qp3)
    GROUP BY `ds`, `play_id`) AS `g`
  GROUP BY `ds`) AS `d_m1` ON `d_m1`.`quinto_partition` = `s`.`quinto_partition`
LEFT JOIN (SELECT `ds` AS `quinto_partition`,
    COUNT(*) AS `n`
  FROM (SELECT `ds`,
      `account_id`,
      `device`,
      `title`
    FROM `dw`.`fact_playback`
    WHERE (NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL) AND `ds` IN (:qp4, :qp5)
    GROUP BY `ds`, `account_id`, `device`, `title`) AS `g`
  GROUP BY `ds`) AS `d_m2` ON `d_m2`.`quinto_partition` = `s`.`quinto_partition`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28", "qp2": "2026-11-27", "qp3": "2026-11-28", "qp4": "2026-11-27", "qp5": "2026-11-28"}

-- scan, distinct counts in the form 'separate': one partition (statement 1 of 3: scan)
SELECT COUNT(*) AS `m0`
FROM `dw`.`fact_playback`
WHERE `ds` = :qp0;
-- params: {"qp0": "2026-11-27"}

-- scan, distinct counts in the form 'separate': one partition (statement 2 of 3: distinct)
SELECT COUNT(*) AS `m1`
FROM (SELECT `play_id`
  FROM `dw`.`fact_playback`
  WHERE NOT `play_id` IS NULL AND `ds` = :qp0
  GROUP BY `play_id`) AS `g`;
-- params: {"qp0": "2026-11-27"}

-- scan, distinct counts in the form 'separate': one partition (statement 3 of 3: distinct)
SELECT COUNT(*) AS `m2`
FROM (SELECT `account_id`,
    `device`,
    `title`
  FROM `dw`.`fact_playback`
  WHERE (NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL) AND `ds` = :qp0
  GROUP BY `account_id`, `device`, `title`) AS `g`;
-- params: {"qp0": "2026-11-27"}

-- scan, distinct counts in the form 'separate': two partitions (statement 1 of 3: scan)
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m0`
FROM `dw`.`fact_playback`
WHERE `ds` IN (:qp0, :qp1)
GROUP BY `ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- scan, distinct counts in the form 'separate': two partitions (statement 2 of 3: distinct)
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m1`
FROM (SELECT `ds`,
    `play_id`
  FROM `dw`.`fact_playback`
  WHERE NOT `play_id` IS NULL AND `ds` IN (:qp0, :qp1)
  GROUP BY `ds`, `play_id`) AS `g`
GROUP BY `ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- scan, distinct counts in the form 'separate': two partitions (statement 3 of 3: distinct)
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m2`
FROM (SELECT `ds`,
    `account_id`,
    `device`,
    `title`
  FROM `dw`.`fact_playback`
  WHERE (NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL) AND `ds` IN (:qp0, :qp1)
  GROUP BY `ds`, `account_id`, `device`, `title`) AS `g`
GROUP BY `ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- scan: two partitions of a DATE partition column
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m0`
FROM `dw`.`fact_playback`
WHERE `ds` IN (CAST(:qp0 AS DATE), CAST(:qp1 AS DATE))
GROUP BY `ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- scan: a backfill's consecutive partitions of a DATE partition column (a range)
SELECT `ds` AS `quinto_partition`,
  COUNT(*) AS `m0`
FROM `dw`.`fact_playback`
WHERE `ds` >= CAST(:qp0 AS DATE) AND `ds` <= CAST(:qp1 AS DATE)
GROUP BY `ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- samples: missing_count(account_id) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (`t`.`account_id` IS NULL)
LIMIT 20;
-- params: {"qp0": "2026-11-27"}

-- samples: missing_percent(country) < 5%
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (`t`.`country` IS NULL OR `t`.`country` IN (CAST(:qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin))
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "zz-missing", "qp2": ""}

-- samples: duplicate_count(play_id) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
JOIN (SELECT `play_id`
  FROM `dw`.`fact_playback`
  WHERE `ds` = :qp1 AND NOT `play_id` IS NULL
  GROUP BY `play_id`
  HAVING COUNT(*) > 1
  LIMIT 20) AS `d` ON `t`.`play_id` = `d`.`play_id`
WHERE `t`.`ds` = :qp0
ORDER BY `t`.`play_id`
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-27"}

-- samples: duplicate_percent(play_id) < 1%
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
JOIN (SELECT `play_id`
  FROM `dw`.`fact_playback`
  WHERE `ds` = :qp1 AND NOT `play_id` IS NULL
  GROUP BY `play_id`
  HAVING COUNT(*) > 1
  LIMIT 20) AS `d` ON `t`.`play_id` = `d`.`play_id`
WHERE `t`.`ds` = :qp0
ORDER BY `t`.`play_id`
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-27"}

-- samples: duplicate_count(account_id, device, title) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
JOIN (SELECT `account_id`,
    `device`,
    `title`
  FROM `dw`.`fact_playback`
  WHERE `ds` = :qp1 AND (NOT `account_id` IS NULL AND NOT `device` IS NULL AND NOT `title` IS NULL)
  GROUP BY `account_id`, `device`, `title`
  HAVING COUNT(*) > 1
  LIMIT 20) AS `d` ON `t`.`account_id` = `d`.`account_id` AND `t`.`device` = `d`.`device` AND `t`.`title` = `d`.`title`
WHERE `t`.`ds` = :qp0
ORDER BY `t`.`account_id`, `t`.`device`, `t`.`title`
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-27"}

-- samples: invalid_count(country) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (NOT `t`.`country` IS NULL AND NOT (`t`.`country` IN (CAST(:qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin)))
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "zz-valid-a", "qp2": "zz-valid-b"}

-- samples: invalid_percent(email) < 1%
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (NOT `t`.`email` IS NULL AND NOT (CAST(`t`.`email` AS CHAR) REGEXP CONCAT('(?-i)', :qp1)))
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "^[^@]+@zz-regex$"}

-- samples: invalid_count(duration_s) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (NOT `t`.`duration_s` IS NULL AND NOT (`t`.`duration_s` >= :qp1 AND `t`.`duration_s` <= :qp2))
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": 0, "qp2": 86400}

-- samples: invalid_count(device) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (NOT `t`.`device` IS NULL AND NOT (CHAR_LENGTH(CAST(`t`.`device` AS CHAR)) = :qp1 AND CHAR_LENGTH(CAST(`t`.`device` AS CHAR)) >= :qp2 AND CHAR_LENGTH(CAST(`t`.`device` AS CHAR)) <= :qp3))
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": 2, "qp2": 1, "qp3": 3}

-- samples: missing_count(select) = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
WHERE `t`.`ds` = :qp0 AND (`t`.`select` IS NULL)
LIMIT 20;
-- params: {"qp0": "2026-11-27"}

-- samples: duplicate_count(order, "Group") = 0
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
JOIN (SELECT `order`,
    `Group`
  FROM `dw`.`fact_playback`
  WHERE `ds` = :qp1 AND (NOT `order` IS NULL AND NOT `Group` IS NULL)
  GROUP BY `order`, `Group`
  HAVING COUNT(*) > 1
  LIMIT 20) AS `d` ON `t`.`order` = `d`.`order` AND `t`.`Group` = `d`.`Group`
WHERE `t`.`ds` = :qp0
ORDER BY `t`.`order`, `t`.`Group`
LIMIT 20;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-27"}

-- reference: reference(title) in dw.dim_title(title_id)
SELECT COUNT(*) AS `m0`
FROM `dw`.`fact_playback` AS `t`
LEFT JOIN `dw`.`dim_title` AS `r` ON `t`.`title` = `r`.`title_id`
WHERE `t`.`ds` = :qp0 AND NOT `t`.`title` IS NULL AND `r`.`title_id` IS NULL;
-- params: {"qp0": "2026-11-27"}

-- reference, two partitions: reference(title) in dw.dim_title(title_id)
SELECT `t`.`ds` AS `quinto_partition`,
  COUNT(*) AS `m0`
FROM `dw`.`fact_playback` AS `t`
LEFT JOIN `dw`.`dim_title` AS `r` ON `t`.`title` = `r`.`title_id`
WHERE `t`.`ds` IN (:qp0, :qp1) AND NOT `t`.`title` IS NULL AND `r`.`title_id` IS NULL
GROUP BY `t`.`ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- samples: reference(title) in dw.dim_title(title_id)
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
LEFT JOIN `dw`.`dim_title` AS `r` ON `t`.`title` = `r`.`title_id`
WHERE `t`.`ds` = :qp0 AND NOT `t`.`title` IS NULL AND `r`.`title_id` IS NULL
LIMIT 20;
-- params: {"qp0": "2026-11-27"}

-- reference: reference(account_id, country) in dw.dim_account(id, country_code)
SELECT COUNT(*) AS `m0`
FROM `dw`.`fact_playback` AS `t`
LEFT JOIN `dw`.`dim_account` AS `r` ON `t`.`account_id` = `r`.`id` AND `t`.`country` = `r`.`country_code`
WHERE `t`.`ds` = :qp0 AND (NOT `t`.`account_id` IS NULL AND NOT `t`.`country` IS NULL) AND `r`.`id` IS NULL;
-- params: {"qp0": "2026-11-27"}

-- reference, two partitions: reference(account_id, country) in dw.dim_account(id, country_code)
SELECT `t`.`ds` AS `quinto_partition`,
  COUNT(*) AS `m0`
FROM `dw`.`fact_playback` AS `t`
LEFT JOIN `dw`.`dim_account` AS `r` ON `t`.`account_id` = `r`.`id` AND `t`.`country` = `r`.`country_code`
WHERE `t`.`ds` IN (:qp0, :qp1) AND (NOT `t`.`account_id` IS NULL AND NOT `t`.`country` IS NULL) AND `r`.`id` IS NULL
GROUP BY `t`.`ds`;
-- params: {"qp0": "2026-11-27", "qp1": "2026-11-28"}

-- samples: reference(account_id, country) in dw.dim_account(id, country_code)
SELECT `t`.*
FROM `dw`.`fact_playback` AS `t`
LEFT JOIN `dw`.`dim_account` AS `r` ON `t`.`account_id` = `r`.`id` AND `t`.`country` = `r`.`country_code`
WHERE `t`.`ds` = :qp0 AND (NOT `t`.`account_id` IS NULL AND NOT `t`.`country` IS NULL) AND `r`.`id` IS NULL
LIMIT 20;
-- params: {"qp0": "2026-11-27"}

-- sql: orphan_titles = 0
select count(*) from dw.fact_playback p
left join dw.dim_title t on p.title = t.title_id
where p.ds = :partition and t.title_id is null and p.note <> 'a:b';
-- params: {}

-- samples: three failed checks in one statement (UNION ALL)
SELECT 0 AS quinto_sample,
  s0.*
FROM (SELECT `t`.*
  FROM `dw`.`fact_playback` AS `t`
  WHERE `t`.`ds` = :b0_qp0 AND (`t`.`account_id` IS NULL)
  LIMIT 20) s0 UNION ALL SELECT 1 AS quinto_sample, s1.*
FROM (SELECT `t`.*
  FROM `dw`.`fact_playback` AS `t`
  WHERE `t`.`ds` = :b1_qp0 AND (`t`.`country` IS NULL OR `t`.`country` IN (CAST(:b1_qp1 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin, CAST(:b1_qp2 AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin))
  LIMIT 20) s1 UNION ALL SELECT 2 AS quinto_sample, s2.*
FROM (SELECT `t`.*
  FROM `dw`.`fact_playback` AS `t`
  JOIN (SELECT `play_id`
    FROM `dw`.`fact_playback`
    WHERE `ds` = :b2_qp1 AND NOT `play_id` IS NULL
    GROUP BY `play_id`
    HAVING COUNT(*) > 1
    LIMIT 20) AS `d` ON `t`.`play_id` = `d`.`play_id`
  WHERE `t`.`ds` = :b2_qp0
  ORDER BY `t`.`play_id`
  LIMIT 20) s2;
-- params: {"b0_qp0": "2026-11-27", "b1_qp0": "2026-11-27", "b1_qp1": "zz-missing", "b1_qp2": "", "b2_qp0": "2026-11-27", "b2_qp1": "2026-11-27"}

-- scan alone: percentile(duration_s, 0.5) < 600 (percentile)
SELECT MAX(CASE WHEN `quinto_count0` - `quinto_rank0` = FLOOR(0.5 * (`quinto_count0` - 1)) THEN `duration_s` END) + (0.5 * (MAX(`quinto_count0`) - 1) - FLOOR(0.5 * (MAX(`quinto_count0`) - 1))) * (MAX(CASE WHEN `quinto_count0` - `quinto_rank0` = CEIL(0.5 * (`quinto_count0` - 1)) THEN `duration_s` END) - MAX(CASE WHEN `quinto_count0` - `quinto_rank0` = FLOOR(0.5 * (`quinto_count0` - 1)) THEN `duration_s` END)) AS `m0`
FROM (SELECT `ds`,
    `duration_s`,
    ROW_NUMBER() OVER (ORDER BY `duration_s` DESC) AS `quinto_rank0`,
    COUNT(`duration_s`) OVER () AS `quinto_count0`
  FROM `dw`.`fact_playback`
  WHERE `ds` = :qp0) AS `fact_playback`;
-- params: {"qp0": "2026-11-27"}

-- scan alone: percentile(duration_s, 0.9) < 900 (percentile, approx)
-- not available: mysql has no approximate percentile aggregate

-- scan alone: duplicate_count(play_id) = 0 (nonnull_rows)
SELECT COUNT(`play_id`) AS `m0`
FROM `dw`.`fact_playback`
WHERE `ds` = :qp0;
-- params: {"qp0": "2026-11-27"}

-- scan alone: duplicate_count(play_id) = 0 (distinct_rows, approx)
-- not available: mysql has no approximate distinct count aggregate

-- partitions: listing (string, bounded, newest first)
SELECT DISTINCT `ds`
FROM `dw`.`fact_playback`
WHERE NOT `ds` IS NULL AND `ds` >= :qp0 AND `ds` <= :qp1
ORDER BY `ds` DESC
LIMIT 1000;
-- params: {"qp0": "2026-10-01", "qp1": "2026-11-28"}

-- partitions: listing (date, bounded, newest first)
SELECT DISTINCT `ds`
FROM `dw`.`fact_playback`
WHERE NOT `ds` IS NULL AND `ds` >= CAST(:qp0 AS DATE) AND `ds` <= CAST(:qp1 AS DATE)
ORDER BY `ds` DESC
LIMIT 1000;
-- params: {"qp0": "2026-10-01", "qp1": "2026-11-28"}
