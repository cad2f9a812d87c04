def test_list_empty(world, api):
    response = api(world.users.staff).get("/api/openstack-server-groups/")
    assert response.status_code == 200, response.content
    assert response.json() == []
    assert response["X-Result-Count"] == "0"
