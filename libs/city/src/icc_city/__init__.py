"""Ho Chi Minh City as data: the service area, the Saigon river and its crossings, distances.

Modules by what they hold: `geo` (points, distances, bearings), `river` (the river, its
crossings, and the route of a trip that must cross), `travel` (the travel model: speeds by
vehicle class and period of the day, circuity, the estimate of a trip), `area` (the service
area), `geojson` (the outline and the river as the dispatcher screen's map).
"""
