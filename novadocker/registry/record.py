"""The synchronisation's record (SQLite): which Glance image holds which
manifest under which tag, and the tags withheld from Glance."""

import os
import sqlite3


def path(state_path):
    """The record's file in ``state_path`` (made if missing)."""
    os.makedirs(state_path, exist_ok=True)
    return os.path.join(state_path, 'glance-images.sqlite')


class Record:
    """Which Glance image holds which manifest under which tag (none once
    superseded), and the tags withheld from Glance: those whose image was
    deleted while another image still holds their manifest (SQLite)."""

    def __init__(self, path):
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._db:
            self._db.execute(
                'CREATE TABLE IF NOT EXISTS images (image_id TEXT PRIMARY '
                'KEY, repository TEXT NOT NULL, tag TEXT, digest TEXT NOT '
                'NULL)')
            self._db.execute(
                'CREATE TABLE IF NOT EXISTS withheld (repository TEXT NOT '
                'NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY '
                '(repository, tag))')
            # Records made before tags were recorded: their images count
            # as untagged.
            columns = [row[1] for row in self._db.execute(
                'PRAGMA table_info(images)')]
            if 'tag' not in columns:
                self._db.execute('ALTER TABLE images ADD COLUMN tag TEXT')

    def add(self, image_id, repository, tag, digest):
        with self._db:
            self._db.execute(
                'INSERT OR REPLACE INTO images (image_id, repository, tag, '
                'digest) VALUES (?, ?, ?, ?)',
                (image_id, repository, tag, digest))

    def untag(self, image_id):
        with self._db:
            self._db.execute('UPDATE images SET tag = NULL WHERE '
                             'image_id = ?', (image_id,))

    def remove(self, image_id):
        with self._db:
            self._db.execute('DELETE FROM images WHERE image_id = ?',
                             (image_id,))

    def manifests(self):
        return self._db.execute(
            'SELECT DISTINCT repository, digest FROM images').fetchall()

    def images_of(self, repository, digest):
        """(image id, tag) of each image of this manifest."""
        return self._db.execute(
            'SELECT image_id, tag FROM images WHERE repository = ? AND '
            'digest = ?', (repository, digest)).fetchall()

    def withhold(self, repository, tag, digest):
        with self._db:
            self._db.execute('INSERT OR REPLACE INTO withheld VALUES '
                             '(?, ?, ?)', (repository, tag, digest))

    def withheld(self, repository, tag):
        """The manifest digest the tag is withheld at, or None."""
        row = self._db.execute(
            'SELECT digest FROM withheld WHERE repository = ? AND tag = ?',
            (repository, tag)).fetchone()
        return row[0] if row else None

    def release_tag(self, repository, tag):
        with self._db:
            self._db.execute('DELETE FROM withheld WHERE repository = ? '
                             'AND tag = ?', (repository, tag))

    def release_manifest(self, repository, digest):
        with self._db:
            self._db.execute('DELETE FROM withheld WHERE repository = ? '
                             'AND digest = ?', (repository, digest))
