## Place-of-stay notices, the address search and "My data".
