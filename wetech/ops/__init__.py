"""Operations: health probes, backups and the data integrity audit."""
