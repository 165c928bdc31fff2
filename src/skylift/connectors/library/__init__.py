"""Document libraries (WebDAV: SharePoint, OneDrive, Nextcloud) as a place mail can go."""
