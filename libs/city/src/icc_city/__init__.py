"""Ho Chi Minh City as data: the service area, the Saigon river and its crossings."""
