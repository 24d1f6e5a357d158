select * from source_status
