-- Leave room on each page of work items, so that an approval below
-- the threshold, which changes no indexed column, can write the new
-- row version next to the old one (a HOT update) and touch none of
-- the indexes. Pages written from now on keep a fifth free.
ALTER TABLE {p}work_items SET (fillfactor = 80);
